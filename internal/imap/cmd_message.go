package imap

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

func cmdCheck(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if err := s.sendUpdates(true); err != nil {
		return err
	}
	return s.ok(tag, "", "CHECK completed")
}

func (s *session) writable() error {
	if s.sel.readOnly {
		return no("READ-ONLY", "the mailbox is selected read-only (EXAMINE)")
	}
	return nil
}

func cmdStore(s *session, tag string, uid bool) error {
	args, err := s.dec.ReadStore()
	if err != nil {
		return err
	}
	conditional := args.UnchangedSince != nil
	var unchangedSince uint64
	if conditional {
		unchangedSince = *args.UnchangedSince
		s.enableCondstore() // RFC 7162 3.1
	}
	var op store.StoreOp
	switch args.Op {
	case wire.StoreReplace:
		op = store.FlagsReplace
	case wire.StoreAdd:
		op = store.FlagsAdd
	case wire.StoreRemove:
		op = store.FlagsRemove
	}
	if err := s.writable(); err != nil {
		return err
	}
	uids, err := s.resolve(args.Set, args.Saved, uid)
	if err != nil {
		return err
	}
	var flags store.Flags
	var keywords []string
	for _, n := range args.Flags {
		if f, ok := store.ParseFlag(n); ok {
			flags |= f
		} else if strings.EqualFold(n, `\Recent`) {
			continue // not settable (RFC 3501 2.3.2)
		} else if store.ValidKeyword(n) {
			keywords = append(keywords, n)
		} else {
			return bad("invalid flag %s", truncate(n))
		}
	}
	upd := store.FlagUpdate{UIDs: uids, Op: op, Flags: flags, Keywords: keywords, UnchangedSince: unchangedSince}
	var modified []uint32
	if conditional && unchangedSince == 0 {
		modified = uids // UNCHANGEDSINCE 0: every message has a modseq above 0
		upd.UIDs = nil
	}
	res, err := s.user.UpdateFlags(s.ctx, s.sel.folder, upd)
	if err != nil {
		return err
	}
	modified = append(modified, res.Modified...)
	// The mailbox service has applied our change before returning, so the
	// updates below come from one consistent picture.
	mine := make(map[uint32]bool, len(res.Updated))
	for _, m := range res.Updated {
		mine[m.UID] = true
	}
	// Other sessions' changes are reported; ours only as STORE's own
	// response (and not at all with .SILENT).
	if err := s.sendUpdatesExcept(uid, mine); err != nil {
		return err
	}
	if !args.Silent {
		for _, uidv := range uids {
			m, ok := s.sel.view.Message(uidv)
			if !ok {
				continue
			}
			s.writeFlags(s.sel.view.Seq(uidv), m, uid)
		}
	}
	if len(modified) > 0 {
		// RFC 7162 3.1.3: the messages whose modseq was above UNCHANGEDSINCE.
		set := modified
		if !uid {
			set = nil
			for _, u := range modified {
				set = append(set, uint32(s.sel.view.Seq(u)))
			}
		}
		return s.ok(tag, "MODIFIED "+uidSet(set), "conditional STORE failed for some messages")
	}
	return s.ok(tag, "", "STORE completed")
}

// expungeDeleted removes \Deleted messages (of only, if not nil) and
// returns their UIDs.
func (s *session) expungeDeleted(only []uint32) ([]uint32, error) {
	var uids []uint32
	consider := only
	if consider == nil {
		consider = s.sel.view.UIDs()
	}
	for _, u := range consider {
		if m, ok := s.sel.view.Message(u); ok && m.Flags&store.FlagDeleted != 0 {
			uids = append(uids, u)
		}
	}
	// Even with nothing to expunge, so that the rights are checked.
	return s.user.Expunge(s.ctx, s.sel.folder, uids)
}

func cmdExpunge(s *session, tag string, uid bool) error {
	var only []uint32
	if uid {
		args, err := s.dec.ReadUIDExpunge()
		if err != nil {
			return err
		}
		if only, err = s.resolve(args.Set, args.Saved, true); err != nil {
			return err
		}
		if len(only) == 0 {
			return s.ok(tag, "", "EXPUNGE completed (nothing to do)")
		}
	} else if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if err := s.writable(); err != nil {
		return err
	}
	if _, err := s.expungeDeleted(only); err != nil {
		return err
	}
	if err := s.sendUpdates(true); err != nil {
		return err
	}
	return s.ok(tag, "", "EXPUNGE completed")
}

func cmdCopy(s *session, tag string, uid bool) error { return s.copyMove(tag, uid, false) }
func cmdMove(s *session, tag string, uid bool) error { return s.copyMove(tag, uid, true) }

func (s *session) copyMove(tag string, uid, move bool) error {
	args, err := s.dec.ReadCopy()
	if err != nil {
		return err
	}
	name, err := s.fromWire(args.Mailbox)
	if err != nil {
		return err
	}
	if move {
		if err := s.writable(); err != nil {
			return err
		}
	}
	uids, err := s.resolve(args.Set, args.Saved, uid)
	if err != nil {
		return err
	}
	dst, err := s.user.Folder(s.ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return no("TRYCREATE", "%s does not exist", name)
		}
		return err
	}
	if len(uids) == 0 {
		return s.ok(tag, "", "nothing to do")
	}
	var res store.CopyResult
	if move {
		res, err = s.user.Move(s.ctx, s.sel.folder, uids, dst)
	} else {
		res, err = s.user.Copy(s.ctx, s.sel.folder, uids, dst)
	}
	if err != nil {
		return err
	}
	code := fmt.Sprintf("COPYUID %d %s %s", res.UIDValidity, uidSet(res.SourceUIDs), uidSet(res.DestUIDs))
	if move {
		// RFC 6851: COPYUID in an untagged OK before the expunges.
		s.untagged("OK [" + code + "] moved")
		if err := s.sendUpdates(true); err != nil {
			return err
		}
		return s.ok(tag, "", "MOVE completed")
	}
	if err := s.sendUpdates(uid); err != nil {
		return err
	}
	return s.ok(tag, code, "COPY completed")
}

// uidSet formats UIDs compactly ("1:3,7"), in the given order (COPYUID
// pairs source and destination sets element by element).
func uidSet(uids []uint32) string {
	var b strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(uids[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(uids[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}

// cmdAppend stores messages (MULTIAPPEND: several in one command, all or
// none) streamed from their literals.
func cmdAppend(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadAppend()
	if err != nil {
		return err
	}
	name, err := s.fromWire(args.Mailbox)
	if err != nil {
		return err
	}
	mb, lookupErr := s.user.Folder(s.ctx, name)
	var staged []store.Staged
	var targets []mailbox.Target
	defer func() {
		for _, m := range staged {
			m.Discard()
		}
	}()
	for {
		msg, more, err := s.dec.ReadAppendMessage()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if msg.Catenate { // RFC 4469
			if lookupErr != nil {
				if err := s.skipCatenate(); err != nil {
					return err
				}
				continue
			}
			m, err := s.stageCatenate()
			if err != nil {
				return err
			}
			staged = append(staged, m)
			targets = append(targets, appendTarget(mb, msg))
			continue
		}
		if lookupErr != nil {
			// The decoder skips the literal, then the command fails: the
			// client sent it.
			continue
		}
		t := appendTarget(mb, msg)
		m, err := s.srv.opts.Store.Stage(s.ctx, msg.Literal)
		if err != nil {
			return err
		}
		staged = append(staged, m)
		targets = append(targets, t)
	}
	if lookupErr != nil {
		if errors.Is(lookupErr, store.ErrNotFound) {
			return no("TRYCREATE", "%s does not exist", name)
		}
		return lookupErr
	}
	deliveries := make([]mailbox.Delivery, len(staged))
	for i, m := range staged {
		deliveries[i] = mailbox.Delivery{Msg: m, Targets: targets[i : i+1]}
	}
	delivered, err := s.user.AppendAll(s.ctx, deliveries) // all or none (RFC 3502)
	if err != nil {
		return err
	}
	var uids []uint32
	for _, d := range delivered {
		uids = append(uids, d.UID)
	}
	if s.sel != nil {
		// The new message's EXISTS comes with this reply.
		if err := s.sendUpdates(true); err != nil {
			return err
		}
	}
	return s.ok(tag, fmt.Sprintf("APPENDUID %d %s", delivered[0].UIDValidity, uidSet(uids)), "APPEND completed")
}

// appendTarget is where APPEND puts msg, with its flags and date.
func appendTarget(f mailbox.Folder, msg wire.AppendMessage) mailbox.Target {
	t := mailbox.Target{Folder: f, InternalDate: msg.Date}
	for _, n := range msg.Flags {
		if f, ok := store.ParseFlag(n); ok {
			t.Flags |= f
		} else if store.ValidKeyword(n) {
			t.Keywords = append(t.Keywords, n)
		}
	}
	return t
}

// cmdIdle reports changes as they happen (RFC 2177) until the client sends
// DONE. The session's goroutine waits for DONE; changes are pushed by a
// short-lived goroutine started when the mailbox changes (idlePush), so
// that thousands of sessions in IDLE cost one parked goroutine each.
func cmdIdle(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	// IDLE may outlast the normal timeout; a shutdown ends it at once.
	if !s.track.Idle(idleTimeout) {
		s.bw.WriteString("* BYE [UNAVAILABLE] server shutting down\r\n")
		return errBye
	}
	defer s.track.Busy()
	// The watch starts before the changes so far are reported, under the
	// lock a push takes: a change that lands after the report wakes a push
	// (which waits for the lock, then finds IDLE on), and one before it is
	// in the report. Started after the continuation instead, a change in
	// between went untold until the next one.
	s.idle.Lock()
	s.idle.on = true
	var stop func()
	if s.sel != nil {
		stop = s.sel.box.Watch(s.idleWake)
	}
	s.bw.WriteString("+ idling\r\n")
	err := s.sendUpdates(true)
	if err == nil {
		err = s.bw.Flush()
	}
	if err != nil {
		s.idle.on = false
		s.idle.Unlock()
		if stop != nil {
			stop()
		}
		return err
	}
	s.idle.Unlock()
	line, err := s.dec.ReadLine()
	if stop != nil {
		stop()
	}
	s.idle.Lock() // waits for a push in progress
	s.idle.on = false
	gone := s.idle.gone
	s.idle.Unlock()
	if gone {
		return errBye // the push said BYE and closed the connection
	}
	var ne net.Error
	switch {
	case err != nil && s.srv.sessions.Closing():
		s.bw.WriteString("* BYE [UNAVAILABLE] server shutting down\r\n")
		return errBye
	case errors.As(err, &ne) && ne.Timeout():
		s.bw.WriteString("* BYE autologout: idle too long\r\n")
		return errBye
	case err != nil:
		return err
	case !wire.IdleDone(line):
		return bad("expected DONE")
	}
	return s.ok(tag, "", "IDLE terminated")
}

// idleTimeout is how long IDLE may stay silent. RFC 2177 asks clients to
// renew it every 29 minutes; two hours leaves room for slow ones.
const idleTimeout = 2 * time.Hour

// idleWake is the selected mailbox's watcher during IDLE. It runs with the
// mailbox locked, so it only starts the push, once for any number of
// changes that arrive before the push looks.
func (s *session) idleWake() {
	if s.idle.pending.CompareAndSwap(false, true) {
		go s.idlePush()
	}
}

// idlePush writes what changed to a session in IDLE (and, with NOTIFY,
// the notifications that came meanwhile).
func (s *session) idlePush() {
	s.push("IDLE", func() error {
		if err := s.sendUpdates(true); err != nil {
			return err
		}
		return s.notifyDeliver() // one push for both: they share s.idle.pending
	})
}

// push writes what deliver produces to a session that waits for the
// client (in IDLE, or between commands under NOTIFY), under the lock the
// waiting goroutine takes when it stops waiting. A client that does not
// read its updates for idleWriteTimeout is disconnected: the session's
// goroutine is reading, and closing the connection ends that read and,
// with gone set, the session.
func (s *session) push(what string, deliver func() error) {
	defer s.containPanic("imap " + what + " update")
	s.idle.Lock()
	defer s.idle.Unlock()
	s.idle.pending.Store(false) // a change from now on starts another push
	if !s.idle.on || s.idle.gone {
		return
	}
	err := deliver()
	s.conn.SetWriteDeadline(time.Now().Add(idleWriteTimeout))
	if ferr := s.bw.Flush(); err == nil {
		err = ferr
	}
	s.conn.SetWriteDeadline(time.Time{})
	if err != nil {
		if !errors.Is(err, errBye) {
			s.srv.log.Debug(what+" update failed", s.logger("err", err)...)
		}
		s.idle.gone = true
		s.conn.Close()
	}
}

const idleWriteTimeout = 5 * time.Minute
