package imap

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// NOTIFY (RFC 5465): the client names mailboxes and events, and the
// session tells it of those events as they happen, also between commands:
// STATUS for changes in mailboxes that are not selected, LIST for created,
// deleted, renamed and (un)subscribed ones, and the usual EXISTS, EXPUNGE
// and FETCH for the selected mailbox.
//
// The events come from the store's change feed through the mailbox
// service (Service.Subscribe), one subscription per NOTIFY session, which
// also follows the accounts that own folders shared with the user and
// every change of an access control list (store.Subscription.Follow), so
// changes made by other users, sessions, processes and nodes arrive alike (other
// nodes' as "something changed in mailbox M" or "the list changed", which
// the session turns into STATUS and LIST by reading the state again). The
// subscription's queue is bounded: a client that does not read its
// notifications stops the push (its connection's buffers fill), the queue
// overflows, and the session says NOTIFICATIONOVERFLOW and stops
// notifying, as RFC 5465 section 5.8 says — memory stays bounded.
//
// Pushing between commands reuses IDLE's machinery: while the session
// waits for a command, s.idle.on is set and a short-lived goroutine
// (notifyPush) may write under s.idle's lock, exactly as idlePush does in
// IDLE.

// notifyEvent is a set of NOTIFY events.
type notifyEvent uint8

const (
	evMessageNew notifyEvent = 1 << iota
	evMessageExpunge
	evFlagChange
	evMailboxName
	evSubscriptionChange

	evMessages = evMessageNew | evMessageExpunge | evFlagChange
)

// supportedEvents are the events this server can report, in BADEVENT's
// list (RFC 5465 5: BADEVENT lists the supported events). Annotation and
// metadata events are not: the server has neither ANNOTATE nor METADATA.
var supportedEvents = map[string]notifyEvent{
	"MessageNew": evMessageNew, "MessageExpunge": evMessageExpunge, "FlagChange": evFlagChange,
	"MailboxName": evMailboxName, "SubscriptionChange": evSubscriptionChange,
}

// notifyGroup is one non-selected event group.
type notifyGroup struct {
	filter string   // INBOXES, PERSONAL, SUBSCRIBED, SUBTREE, MAILBOXES
	names  []string // SUBTREE and MAILBOXES, in the store's (UTF-8) form
	events notifyEvent
}

// notifier is the session's NOTIFY state; nil when NOTIFY is NONE.
type notifier struct {
	groups    []notifyGroup
	selEvents notifyEvent      // SELECTED / SELECTED-DELAYED events; 0: none
	delayed   bool             // SELECTED-DELAYED: expunges wait for a command
	fetch     []wire.FetchItem // MessageNew's fetch-att for the selected mailbox

	sub  *store.Subscription
	done chan struct{}

	// What the client was told, to turn "something changed" into the
	// responses that say what.
	boxes   map[int64]string         // mailbox id → name, as last listed
	folders map[int64]mailbox.Folder // mailbox id → the folder listed, for STATUS
	subs    map[string]bool          // subscribed names, as last listed
	status  map[int64]store.MailboxStatus
	upTo    uint32 // the selected mailbox's highest UID told with MessageNew's FETCH
	upToIn  int64  // the mailbox upTo is of

	// stopSel ends the watch on the selected mailbox that notifyBetween
	// starts while the session waits for a command; nil when none.
	stopSel func()
}

// cmdNotify is NOTIFY SET / NOTIFY NONE.
func cmdNotify(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	args, err := s.dec.ReadNotify()
	if err != nil {
		return err
	}
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	n, err := s.notifySpec(args)
	if err != nil {
		return err
	}
	s.notifyStop()
	if n == nil {
		return s.ok(tag, "", "NOTIFY NONE completed")
	}
	// Subscribe before reading the state, so no change falls between.
	n.sub = s.srv.opts.Mailboxes.Subscribe(s.principal.AccountID)
	n.done = make(chan struct{})
	if err := s.notifyRelist(n, false); err != nil {
		n.sub.Close()
		return err
	}
	// NOTIFY SET is an implicit NOOP for the selected mailbox (RFC 5465
	// 3.1); MessageNew's fetch attributes are for what comes after it.
	if err := s.sendUpdates(true); err != nil {
		n.sub.Close()
		return err
	}
	s.notify = n
	s.notifyFetchNew() // from here on
	if args.Status {
		// STATUS of every watched mailbox but the selected one (RFC 5465 5.1).
		ids := make([]int64, 0, len(n.boxes))
		for id := range n.boxes {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if g := s.notifyGroupOf(n.boxes[id]); g != nil && g.events&evMessages != 0 && !s.isSelected(id) {
				if err := s.notifyStatus(id, g.events, true); err != nil {
					return err
				}
			}
		}
	}
	go s.notifyWatch(n)
	return s.ok(tag, "", "NOTIFY completed")
}

// notifySpec checks NOTIFY's arguments (RFC 5465 section 3 and 8) and
// returns the notifier they ask for, nil for NOTIFY NONE.
func (s *session) notifySpec(args *wire.Notify) (*notifier, error) {
	if args.None {
		return nil, nil
	}
	n := &notifier{}
	var unsupported bool
	selSeen := false
	for _, g := range args.Groups {
		var ev notifyEvent
		for _, name := range g.Events {
			e, ok := supportedEvents[name]
			if !ok {
				unsupported = true
			}
			ev |= e
		}
		selected := g.Filter == "SELECTED" || g.Filter == "SELECTED-DELAYED"
		all := ev
		for _, name := range g.Events {
			switch name {
			case "AnnotationChange":
				all |= evFlagChange // for the pairing rules below
			case "MailboxName", "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange":
				if selected {
					return nil, bad("only message events may follow %s", g.Filter)
				}
			}
		}
		// For the selected mailbox, MessageNew and MessageExpunge go
		// together and FlagChange (and AnnotationChange) need both: the
		// client's sequence numbers stay right only if it hears of every
		// message coming and going (RFC 5465 5.2-5.4). Elsewhere STATUS
		// counts, and any one of them may be asked for.
		if selected && (all&evMessageNew != 0) != (all&evMessageExpunge != 0) {
			return nil, bad("MessageNew and MessageExpunge must be given together for the selected mailbox")
		}
		if selected && all&evFlagChange != 0 && all&evMessageNew == 0 {
			return nil, bad("FlagChange needs MessageNew and MessageExpunge for the selected mailbox")
		}
		if g.Fetch != nil && !selected {
			return nil, bad("MessageNew's FETCH attributes are only for the selected mailbox")
		}
		if selected {
			if selSeen {
				return nil, bad("SELECTED may be given once")
			}
			selSeen = true
			n.selEvents, n.delayed = ev, g.Filter == "SELECTED-DELAYED"
			for _, it := range g.Fetch {
				it.Peek = true // a notification never sets \Seen
				n.fetch = append(n.fetch, it)
			}
			continue
		}
		ng := notifyGroup{filter: g.Filter, events: ev}
		for _, name := range g.Mailboxes {
			name, err := s.fromWire(name)
			if err != nil {
				continue // no mailbox has the name
			}
			ng.names = append(ng.names, name)
		}
		n.groups = append(n.groups, ng)
	}
	if unsupported {
		var names []string
		for _, e := range wire.NotifyEvents {
			if _, ok := supportedEvents[e]; ok {
				names = append(names, e)
			}
		}
		return nil, no("BADEVENT ("+strings.Join(names, " ")+")", "unsupported NOTIFY event")
	}
	return n, nil
}

// notifyGroupOf returns the first event group whose filter takes the
// mailbox, nil if none does.
func (s *session) notifyGroupOf(name string) *notifyGroup {
	n := s.notify
	for i := range n.groups {
		g := &n.groups[i]
		switch g.filter {
		case "INBOXES", "PERSONAL":
			// Mail may be filed into any mailbox of the account (Sieve
			// fileinto), so every personal mailbox can receive mail.
			return g
		case "SUBSCRIBED":
			if n.subs[name] {
				return g
			}
		case "MAILBOXES":
			if slices.Contains(g.names, name) {
				return g
			}
		case "SUBTREE":
			for _, root := range g.names {
				if name == root || strings.HasPrefix(name, root+store.Delimiter) {
					return g
				}
			}
		}
	}
	return nil
}

func (s *session) isSelected(id int64) bool { return s.sel != nil && s.sel.mb.ID == id }

// notifySelected reports whether NOTIFY asks for message events of the
// selected mailbox: then every FETCH of a flag change carries the UID (RFC
// 5465 5.1), since it may come at any time.
func (s *session) notifySelected() bool { return s.notify != nil && s.notify.selEvents != 0 }

// notifyStop ends NOTIFY (NOTIFY NONE, a new NOTIFY SET, logout).
func (s *session) notifyStop() {
	if n := s.notify; n != nil {
		close(n.done)
		n.sub.Close()
		if n.stopSel != nil {
			n.stopSel()
		}
		s.notify = nil
	}
}

// notifyWatch runs while NOTIFY is on: a feed event wakes a push, which
// writes at once if the session is waiting for a command (or in IDLE) and
// otherwise leaves the event for the end of the running command.
func (s *session) notifyWatch(n *notifier) {
	for {
		select {
		case <-n.done:
			return
		case <-n.sub.Ready():
		}
		if s.idle.pending.CompareAndSwap(false, true) {
			go s.notifyPush()
		}
	}
}

// notifyPush writes pending notifications to a session that is waiting.
// It is idlePush for NOTIFY, and shares its lock and its failure rule.
func (s *session) notifyPush() { s.push("NOTIFY", s.notifyDeliver) }

// notifyBetween is called by readTag just before it waits for a command:
// what arrived during the last command is written now, and from now until
// notifyEndBetween a push may write.
func (s *session) notifyBetween() error {
	if s.notify == nil {
		return nil
	}
	// Under the lock, so that a push woken by an event arriving now waits
	// and then finds the session waiting: no event is left behind.
	s.idle.Lock()
	defer s.idle.Unlock()
	// The account's feed tells of a change in the selected mailbox before
	// or after the mailbox service has applied it to the mailbox the view
	// syncs with: if before, the sync finds nothing yet and the event is
	// spent. The mailbox's own watch (IDLE's) fires once it is applied, so
	// a change of the selected mailbox is never left waiting for the next
	// event. Started before delivering, so none falls in between.
	if n := s.notify; n.selEvents != 0 && s.sel != nil && n.stopSel == nil {
		n.stopSel = s.sel.box.Watch(s.notifyWake)
	}
	if err := s.notifyDeliver(); err != nil {
		return err
	}
	if s.br.Buffered() == 0 {
		if err := s.bw.Flush(); err != nil {
			return err
		}
	}
	s.idle.on = true
	return nil
}

// notifyEndBetween ends what notifyBetween began; it waits for a push in
// progress. It reports whether a push failed and closed the connection.
// It takes the lock even if NOTIFY is off now: a push may have turned it
// off (NOTIFICATIONOVERFLOW) while the session waited.
func (s *session) notifyEndBetween() (gone bool) {
	s.idle.Lock()
	defer s.idle.Unlock()
	s.idle.on = false
	if n := s.notify; n != nil && n.stopSel != nil {
		n.stopSel()
		n.stopSel = nil
	}
	return s.idle.gone
}

// notifyWake is the selected mailbox's watcher between commands. Like
// idleWake it runs with the mailbox locked and only starts the push.
func (s *session) notifyWake() {
	if s.idle.pending.CompareAndSwap(false, true) {
		go s.notifyPush()
	}
}

// notifyDeliver takes what the feed has for the session and writes the
// notifications it calls for.
func (s *session) notifyDeliver() error {
	n := s.notify
	if n == nil {
		return nil
	}
	b := n.sub.Take()
	if b.Closed {
		return nil
	}
	if b.Overflowed {
		// Events were lost: RFC 5465 5.8, the client gets
		// NOTIFICATIONOVERFLOW and no more notifications (NOTIFY NONE).
		s.untagged("OK [NOTIFICATIONOVERFLOW] too many changes to report; NOTIFY is off, set it again")
		s.notifyStop()
		return nil
	}
	relist := false
	changed := map[int64]notifyEvent{} // mailbox → events seen
	var order []int64
	for _, e := range b.Events {
		var ev notifyEvent
		switch e.Kind {
		case store.EventMessageAdded:
			ev = evMessageNew
		case store.EventExpunged:
			ev = evMessageExpunge
		case store.EventFlagsChanged:
			ev = evFlagChange
		case store.EventMailboxChanged:
			if e.MailboxID == 0 {
				relist = true // another node changed the list
				continue
			}
			ev = evMessages // another node: which change is not known
		case store.EventMailboxCreated, store.EventMailboxRenamed, store.EventMailboxDeleted, store.EventMailboxSubscribed,
			store.EventACLChanged:
			if !relist {
				concerns, err := s.notifyConcerns(n, e)
				if err != nil {
					return err
				}
				relist = concerns
			}
			continue
		default:
			continue
		}
		if _, ok := changed[e.MailboxID]; !ok {
			order = append(order, e.MailboxID)
		}
		changed[e.MailboxID] |= ev
	}
	if relist {
		if err := s.notifyRelist(n, true); err != nil {
			return err
		}
	}
	for _, id := range order {
		if s.isSelected(id) {
			continue // below
		}
		name, ok := n.boxes[id]
		if !ok {
			continue // deleted meanwhile
		}
		g := s.notifyGroupOf(name)
		if g == nil || g.events&changed[id] == 0 {
			continue
		}
		if err := s.notifyStatus(id, g.events, false); err != nil {
			return err
		}
	}
	if n.selEvents != 0 && s.sel != nil {
		// EXISTS, EXPUNGE (not with SELECTED-DELAYED), FETCH, and the
		// MessageNew FETCH attributes (sendUpdates calls notifyFetchNew).
		// Whether or not an event named the selected mailbox: its change
		// may have been applied after the event came (see notifyBetween);
		// with nothing new, the sync writes nothing.
		return s.sendUpdates(!n.delayed)
	}
	return nil
}

// notifyConcerns reports whether a change of a mailbox list may change
// what the session listed. The user's own account's changes always may.
// Of the accounts it follows (owners of folders shared with the user),
// and of every account's access control lists, only a change to a folder
// it listed, or to one whose list names the user (a new share, a new
// subfolder that inherited one), does: other users' own folders and
// subscriptions are none of its business, and relisting for each would
// cost every NOTIFY session three store reads per change anywhere.
func (s *session) notifyConcerns(n *notifier, e store.Event) (bool, error) {
	if e.AccountID == s.principal.AccountID {
		return true, nil
	}
	if _, listed := n.folders[e.MailboxID]; listed {
		return true, nil
	}
	switch e.Kind {
	case store.EventMailboxCreated, store.EventACLChanged:
		return s.user.Named(s.ctx, e.MailboxID)
	}
	return false, nil
}

// notifyStatus writes STATUS for a mailbox that is not selected (RFC 5465
// 5.2-5.4): MESSAGES, UIDNEXT and UNSEEN for new and expunged messages,
// UNSEEN and HIGHESTMODSEQ for flag changes, always UIDVALIDITY. Unless
// always, it is written only if a value the client asked for changed.
func (s *session) notifyStatus(id int64, ev notifyEvent, always bool) error {
	n := s.notify
	f, listed := n.folders[id]
	if !listed {
		return nil
	}
	st, err := s.user.Status(s.ctx, f)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, mailbox.ErrNoPermission) {
		return nil // gone, or listed without the right to read it
	}
	if err != nil {
		return err
	}
	prev, had := n.status[id]
	n.status[id] = st
	items := []string{"UIDVALIDITY " + strconv.FormatUint(uint64(st.UIDValidity), 10)}
	differs := !had || prev.UIDValidity != st.UIDValidity
	if ev&(evMessageNew|evMessageExpunge) != 0 {
		items = append(items, "MESSAGES "+strconv.Itoa(st.Messages), "UIDNEXT "+strconv.FormatUint(uint64(st.UIDNext), 10))
		differs = differs || prev.Messages != st.Messages || prev.UIDNext != st.UIDNext
	}
	if ev&evMessages != 0 {
		items = append(items, "UNSEEN "+strconv.Itoa(st.Unseen))
		differs = differs || prev.Unseen != st.Unseen
	}
	// FlagChange: "at least HIGHESTMODSEQ and UIDVALIDITY" (RFC 5465 5.1);
	// any message event once CONDSTORE or QRESYNC is on (5.2, 5.3).
	if ev&evFlagChange != 0 || s.condstore || s.qresync {
		items = append(items, "HIGHESTMODSEQ "+strconv.FormatUint(st.HighestModSeq, 10))
		differs = differs || prev.HighestModSeq != st.HighestModSeq
	}
	if !differs && !always {
		return nil
	}
	s.untagged("STATUS " + quoteName(s.toWire(f.Name())) + " (" + strings.Join(items, " ") + ")")
	return nil
}

// toWire is a mailbox name as the client reads it: modified UTF-7 unless
// it enabled UTF-8.
func (s *session) toWire(name string) string {
	if !s.utf8 && name != "INBOX" {
		return wire.EncodeMUTF7(name)
	}
	return name
}

// notifyRelist reads the mailbox list and subscriptions again and, with
// report, writes LIST for what changed (RFC 5465 5.4 MailboxName, 5.5
// SubscriptionChange) to clients that asked for it.
func (s *session) notifyRelist(n *notifier, report bool) error {
	folders, err := s.user.List(s.ctx)
	if err != nil {
		return err
	}
	names, err := s.user.Subscriptions(s.ctx)
	if err != nil {
		return err
	}
	now := make(map[int64]string, len(folders))
	n.folders = make(map[int64]mailbox.Folder, len(folders))
	var owners []int64 // of the folders others share with the user
	for _, f := range folders {
		now[f.ID()] = f.Name()
		n.folders[f.ID()] = f
		if id := f.Mailbox().AccountID; f.Owner() != "" && !slices.Contains(owners, id) {
			owners = append(owners, id)
		}
	}
	// Their changes come from their owners' accounts.
	n.sub.Follow(owners)
	subs := make(map[string]bool, len(names))
	for _, name := range names {
		subs[name] = true
	}
	old, oldSubs := n.boxes, n.subs
	n.boxes, n.subs = now, subs
	if n.status == nil {
		n.status = map[int64]store.MailboxStatus{}
	}
	if !report {
		return nil
	}
	wants := func(name string, ev notifyEvent) bool {
		g := s.notifyGroupOf(name)
		return g != nil && g.events&ev != 0
	}
	list := func(attrs, name, extra string) {
		s.untagged("LIST (" + attrs + `) "/" ` + quoteName(s.toWire(name)) + extra)
	}
	moved := map[string]bool{} // names a rename or delete already reported
	for _, f := range folders {
		name := f.Name()
		was, existed := old[f.ID()]
		switch {
		case !existed && wants(name, evMailboxName):
			list("", name, "")
		case existed && was != name:
			// The subscription moves with the mailbox: the LIST with
			// OLDNAME says so, no SubscriptionChange for either name.
			if oldSubs[was] && subs[name] && !subs[was] {
				moved[was], moved[name] = true, true
			}
			if wants(name, evMailboxName) || wants(was, evMailboxName) {
				list("", name, ` ("OLDNAME" (`+quoteName(s.toWire(was))+`))`)
			}
		}
	}
	for id, name := range old {
		if _, ok := now[id]; !ok {
			delete(n.status, id)
			moved[name] = true
			if wants(name, evMailboxName) {
				list(`\NonExistent`, name, "")
			}
		}
	}
	var changedSubs []string
	for name := range subs {
		if !oldSubs[name] && !moved[name] {
			changedSubs = append(changedSubs, name)
		}
	}
	for name := range oldSubs {
		if !subs[name] && !moved[name] {
			changedSubs = append(changedSubs, name)
		}
	}
	slices.Sort(changedSubs)
	for _, name := range changedSubs {
		if !wants(name, evSubscriptionChange) {
			continue
		}
		if subs[name] {
			list(`\Subscribed`, name, "")
		} else {
			list("", name, "")
		}
	}
	return nil
}

// notifyFetchNew writes MessageNew's FETCH attributes for messages new in
// the selected mailbox (RFC 5465 5.2), after their EXISTS. The update path
// (sendUpdatesExcept) calls it, so whichever response tells the client of
// a new message, the FETCH follows.
func (s *session) notifyFetchNew() error {
	n := s.notify
	if n == nil || s.sel == nil || n.selEvents&evMessageNew == 0 {
		return nil
	}
	uids := s.sel.view.UIDs()
	if n.upToIn != s.sel.mb.ID {
		// Another mailbox was selected: what it has is not new.
		n.upToIn, n.upTo = s.sel.mb.ID, 0
		if len(uids) > 0 {
			n.upTo = uids[len(uids)-1]
		}
		return nil
	}
	first, _ := slices.BinarySearch(uids, n.upTo+1)
	fresh := uids[first:]
	if len(uids) > 0 {
		n.upTo = max(n.upTo, uids[len(uids)-1])
	}
	if len(n.fetch) == 0 {
		return nil
	}
	return s.fetchFor(n.fetch, fresh)
}

// fetchFor writes FETCH responses with items for the given messages of
// the selected mailbox (UIDs): the fetch attributes of NOTIFY's MessageNew
// and of SEARCH RETURN (UPDATE (...)) (RFC 5465 5.2, 7). The items are
// .PEEK: a notification never sets \Seen. Messages expunged meanwhile are
// left out.
func (s *session) fetchFor(items []wire.FetchItem, uids []uint32) error {
	needStructure, needBody := fetchNeeds(items)
	// The UID goes along (the client learns of the message here), once.
	wantUID := !slices.ContainsFunc(items, func(it wire.FetchItem) bool { return it.Name == "UID" })
	for _, u := range uids {
		meta, ok := s.sel.view.Message(u)
		if !ok {
			continue
		}
		f := &fetchMessage{s: s, meta: meta}
		var err error
		if needStructure {
			_, err = f.getStructure()
		}
		if err == nil && needBody {
			_, err = f.getBody()
		}
		if err == nil {
			err = s.fetchOne(f, items, wantUID, false)
		}
		f.close()
		if errors.Is(err, store.ErrNotFound) {
			continue // expunged meanwhile
		}
		if err != nil {
			return err
		}
	}
	return nil
}
