package imap

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/imap/msgfmt"
	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// fetchMessage loads a message's structure and body at most once per
// FETCH response, and only when an item needs them.
type fetchMessage struct {
	s         *session
	meta      store.MessageMeta
	structure *mime.Message
	body      store.Body
	begun     bool // "* n FETCH (" was written

	wantModSeq bool // CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1)
	modseqDone bool
}

func (f *fetchMessage) getStructure() (*mime.Message, error) {
	if f.structure == nil {
		st, err := f.s.sel.box.Structure(f.s.ctx, f.meta.UID)
		if err != nil {
			return nil, err
		}
		f.structure = st
	}
	return f.structure, nil
}

func (f *fetchMessage) getBody() (store.Body, error) {
	if f.body == nil {
		b, err := f.s.sel.box.Body(f.s.ctx, f.meta.UID)
		if err != nil {
			return nil, err
		}
		f.body = b
	}
	return f.body, nil
}

func (f *fetchMessage) close() {
	if f.body != nil {
		f.body.Close()
	}
}

func cmdFetch(s *session, tag string, uid bool) error {
	args, err := s.dec.ReadFetch()
	if err != nil {
		return err
	}
	set, saved, items, mods := args.Set, args.Saved, args.Items, args.Modifiers
	changedSince := mods.ChangedSince
	if mods.Vanished && (!uid || !s.qresync || changedSince == 0) {
		return bad("VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled")
	}
	if changedSince != 0 || slices.ContainsFunc(items, func(it wire.FetchItem) bool { return it.Name == "MODSEQ" }) {
		s.enableCondstore()
	}
	if mods.Vanished {
		// Before the updates below: UIDs they report as VANISHED are not
		// reported again as VANISHED (EARLIER).
		if err := s.vanishedSince(set, changedSince); err != nil {
			return err
		}
	}
	// New mail and flag changes may be told now; expunges not during a
	// FETCH by sequence number (RFC 9051 7.5.1).
	if err := s.sendUpdates(uid); err != nil {
		return err
	}
	// The set is resolved in the view just announced: after "* n EXISTS",
	// "1:*" must include message n (a client resyncing with UID FETCH 1:*
	// (FLAGS) (CHANGEDSINCE m) would otherwise never learn the new
	// message's flags and modseq from it).
	uids, err := s.resolve(set, saved, uid)
	if err != nil {
		return err
	}
	markSeen, askedUID := false, false
	for i := range items {
		it := &items[i]
		switch it.Name {
		case "BODY", "BINARY":
			if it.Section != nil && !it.Peek {
				markSeen = true
			}
		case "RFC822", "RFC822.TEXT":
			markSeen = true
		case "UID":
			askedUID = true // written where it was asked for
		}
	}
	seen := map[uint32]bool{}
	if markSeen && !s.sel.readOnly {
		var unseen []uint32
		for _, u := range uids {
			if m, ok := s.sel.view.Message(u); ok && m.Flags&store.FlagSeen == 0 {
				unseen = append(unseen, u)
			}
		}
		if len(unseen) > 0 {
			res, err := s.user.MarkSeen(s.ctx, s.sel.folder, unseen)
			if err != nil {
				return err
			}
			for _, m := range res.Updated {
				seen[m.UID] = true
			}
			// Other sessions' changes that arrived meanwhile are still
			// announced; ours only inside the FETCH responses below.
			if err := s.sendUpdatesExcept(uid, seen); err != nil {
				return err
			}
		}
	}
	needStructure, needBody := fetchNeeds(items)
	// Messages another session expunged, which this one still has (it may
	// not be told yet, RFC 9051 7.5.1), are left out, as in RFC 2180
	// 4.1.2, but the FETCH succeeds: OK [EXPUNGEISSUED] (RFC 5530) tells
	// the client to NOOP for the EXPUNGEs, without failing its FETCH of
	// the other messages (Dovecot answers so too).
	expunged := false
	for _, u := range uids {
		meta, ok := s.sel.view.Message(u)
		if !ok {
			expunged = true
			continue
		}
		if changedSince != 0 && meta.ModSeq <= changedSince {
			continue
		}
		// A FETCH that sets \Seen tells a CONDSTORE client the new flags
		// with UID and MODSEQ, as any other flag change (RFC 7162 3.1).
		implicit := s.condstore && seen[u]
		f := &fetchMessage{s: s, meta: meta, wantModSeq: changedSince != 0 || implicit}
		// What the response needs from the store is opened before it
		// begins, so that a message expunged meanwhile is left out whole.
		var err error
		if needStructure {
			_, err = f.getStructure()
		}
		if err == nil && needBody {
			_, err = f.getBody()
		}
		if errors.Is(err, store.ErrNotFound) {
			f.close()
			expunged = true
			continue
		}
		if err == nil {
			err = s.fetchOne(f, items, (uid || implicit) && !askedUID, seen[u])
		}
		f.close()
		if err != nil {
			var te *taggedError
			if errors.As(err, &te) && f.begun {
				s.bw.WriteString(")\r\n") // end the response begun for this message
			}
			return err
		}
	}
	if expunged {
		return s.ok(tag, "EXPUNGEISSUED", "FETCH completed; some messages were expunged meanwhile")
	}
	return s.ok(tag, "", "FETCH completed")
}

// fetchNeeds reports whether items need the message's structure or body.
func fetchNeeds(items []wire.FetchItem) (structure, body bool) {
	for i := range items {
		switch it := &items[i]; it.Name {
		case "ENVELOPE", "PREVIEW", "BODYSTRUCTURE":
			structure = true
		case "BODY":
			structure = true
			body = body || it.Section != nil
		case "BINARY", "BINARY.SIZE", "RFC822", "RFC822.HEADER", "RFC822.TEXT":
			structure, body = true, true
		}
	}
	return structure, body
}

func (s *session) fetchOne(f *fetchMessage, items []wire.FetchItem, wantUID, flagsChanged bool) error {
	// A part whose transfer encoding we cannot decode fails BINARY before
	// anything is written (RFC 3516: NO [UNKNOWN-CTE]).
	for i := range items {
		if it := &items[i]; it.Name == "BINARY" || it.Name == "BINARY.SIZE" {
			st, err := f.getStructure()
			if err != nil {
				return s.fetchErr(err)
			}
			if err := msgfmt.CheckBinary(st, it.Section); errors.Is(err, msgfmt.ErrUnknownCTE) {
				return no("UNKNOWN-CTE", "cannot decode the part's content transfer encoding")
			}
		}
	}
	b := s.bw
	b.WriteString("* ")
	b.WriteString(strconv.Itoa(s.sel.view.Seq(f.meta.UID)))
	b.WriteString(" FETCH (")
	f.begun = true
	first := true
	sp := func() {
		if !first {
			b.WriteByte(' ')
		}
		first = false
	}
	if wantUID {
		sp()
		b.WriteString("UID " + strconv.FormatUint(uint64(f.meta.UID), 10))
	}
	wroteFlags := false
	for i := range items {
		it := &items[i]
		switch it.Name {
		case "UID":
			sp()
			b.WriteString("UID " + strconv.FormatUint(uint64(f.meta.UID), 10))
		case "FLAGS":
			sp()
			b.WriteString("FLAGS ")
			s.enc.Flags(s.flagNames(f.meta))
			wroteFlags = true
		case "INTERNALDATE":
			sp()
			b.WriteString("INTERNALDATE ")
			s.enc.DateTime(time.Unix(f.meta.InternalDate, 0))
		case "RFC822.SIZE":
			sp()
			b.WriteString("RFC822.SIZE " + strconv.FormatInt(f.meta.Size, 10))
		case "MODSEQ":
			if f.modseqDone {
				continue
			}
			sp()
			b.WriteString("MODSEQ (" + strconv.FormatUint(f.meta.ModSeq, 10) + ")")
			f.modseqDone = true
		case "EMAILID":
			sp()
			b.WriteString("EMAILID (" + search.EmailID(f.meta.ContentID) + ")")
		case "THREADID":
			sp()
			// The store's conversation (store.Threads), stable across
			// moves and copies. 0 is no thread (not expected since every
			// message gets one): NIL, as RFC 8474 allows.
			if f.meta.ThreadID == 0 {
				b.WriteString("THREADID NIL")
			} else {
				b.WriteString("THREADID (" + search.ThreadID(f.meta.ThreadID) + ")")
			}
		case "PREVIEW":
			st, err := f.getStructure()
			if err != nil {
				return s.fetchErr(err)
			}
			sp()
			b.WriteString("PREVIEW ")
			s.enc.NString(st.Preview)
		case "ENVELOPE":
			st, err := f.getStructure()
			if err != nil {
				return s.fetchErr(err)
			}
			sp()
			b.WriteString("ENVELOPE ")
			msgfmt.Envelope(s.enc, st.Root.Envelope)
		case "BODYSTRUCTURE", "BODY":
			if it.Section != nil {
				if err := s.fetchSection(f, it, sp); err != nil {
					return err
				}
				continue
			}
			st, err := f.getStructure()
			if err != nil {
				return s.fetchErr(err)
			}
			sp()
			b.WriteString(it.Name + " ")
			msgfmt.BodyStructure(s.enc, st, it.Name == "BODYSTRUCTURE")
		case "BINARY", "RFC822", "RFC822.HEADER", "RFC822.TEXT":
			if err := s.fetchSection(f, it, sp); err != nil {
				return err
			}
		case "BINARY.SIZE":
			st, err := f.getStructure()
			if err != nil {
				return s.fetchErr(err)
			}
			body, err := f.getBody()
			if err != nil {
				return s.fetchErr(err)
			}
			n, err := msgfmt.BinarySize(st, body, it.Section)
			if errors.Is(err, msgfmt.ErrUnknownCTE) {
				return no("UNKNOWN-CTE", "cannot decode the part's content transfer encoding")
			}
			if err != nil {
				return s.fetchErr(err)
			}
			sp()
			s.enc.FetchKey(it)
			b.WriteString(" " + strconv.FormatInt(n, 10))
		default:
			return bad("FETCH %s is not supported", truncate(it.Name))
		}
	}
	if flagsChanged && !wroteFlags {
		sp()
		b.WriteString("FLAGS ")
		s.enc.Flags(s.flagNames(f.meta))
	}
	if f.wantModSeq && !f.modseqDone {
		sp()
		b.WriteString("MODSEQ (" + strconv.FormatUint(f.meta.ModSeq, 10) + ")")
	}
	b.WriteString(")\r\n")
	return nil
}

// fetchSection writes BODY[...], BINARY[...] and the RFC822 forms.
func (s *session) fetchSection(f *fetchMessage, it *wire.FetchItem, sp func()) error {
	st, err := f.getStructure()
	if err != nil {
		return s.fetchErr(err)
	}
	body, err := f.getBody()
	if err != nil {
		return s.fetchErr(err)
	}
	sec := it.Section
	switch it.Name {
	case "RFC822":
		sec = &wire.Section{}
	case "RFC822.HEADER":
		sec = &wire.Section{Specifier: "HEADER"}
	case "RFC822.TEXT":
		sec = &wire.Section{Specifier: "TEXT"}
	}
	sp()
	if strings.HasPrefix(it.Name, "RFC822") {
		s.bw.WriteString(it.Name)
	} else {
		s.enc.FetchKey(it)
	}
	s.bw.WriteByte(' ')
	if it.Name == "BINARY" {
		err = msgfmt.WriteBinary(s.enc, st, body, sec, it.Partial)
		if errors.Is(err, msgfmt.ErrUnknownCTE) {
			return no("UNKNOWN-CTE", "cannot decode the part's content transfer encoding")
		}
	} else {
		err = msgfmt.WriteSection(s.enc, st, body, sec, it.Partial)
	}
	if err != nil {
		// Octets were announced and not all sent: the stream is broken.
		s.srv.log.Error("FETCH of a message body failed", s.logger("uid", f.meta.UID, "err", err)...)
		return errBye
	}
	return nil
}

func (s *session) fetchErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return no("EXPUNGEISSUED", "a message was expunged by another client meanwhile")
	}
	return err
}
