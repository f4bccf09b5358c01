package imapmigrate

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/store"
)

// FolderVerdict compares one source folder with its copy here.
type FolderVerdict struct {
	Source, Ours string
	SourceCount  int // messages at the source
	OurCount     int // messages here
	// Missing: source messages with no copy here of the same bytes.
	// Different: a copy is recorded but its bytes differ. FlagsDiffer:
	// the copy's flags or keywords are not the source's.
	Missing, Different, FlagsDiffer int
	// Extra are messages here that are not at the source (deleted there
	// since, or delivered here): reported, not a difference.
	Extra int
}

// OK reports whether every source message is here, byte for byte, with
// its flags.
func (v *FolderVerdict) OK() bool { return v.Missing == 0 && v.Different == 0 && v.FlagsDiffer == 0 }

func (v *FolderVerdict) String() string {
	verdict := "OK"
	if !v.OK() {
		verdict = "DIFFERENT"
	}
	name := v.Ours
	if v.Source != v.Ours {
		name = v.Source + " -> " + v.Ours
	}
	s := fmt.Sprintf("%-8s %s: %d at the source, %d here", verdict, name, v.SourceCount, v.OurCount)
	var notes []string
	for _, n := range []struct {
		n    int
		what string
	}{{v.Missing, "missing here"}, {v.Different, "with different bytes"}, {v.FlagsDiffer, "with different flags"}, {v.Extra, "only here"}} {
		if n.n > 0 {
			notes = append(notes, fmt.Sprintf("%d %s", n.n, n.what))
		}
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

// srcSum is a source message as verify sees it.
type srcSum struct {
	uid   uint32
	sum   [sha256.Size]byte
	flags store.Flags
	kw    string
}

// Verify compares every source folder with its copy here: counts, the
// SHA-256 of every message (matched by source UID through the state, else
// by content) and flags. It changes nothing, here or at the source.
func Verify(ctx context.Context, opts Options) ([]*FolderVerdict, error) {
	if opts.Connections <= 0 {
		opts.Connections = 4
	}
	acct, err := opts.Store.Account(ctx, opts.Account)
	if err != nil {
		return nil, fmt.Errorf("verify: account %s: %w", opts.Account, err)
	}
	dir := stateDir(opts.StateDir, acct.Email, opts.Source.String())
	state, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cn, err := dial(ctx, opts.Source, opts.Password, opts.InsecureTLS)
	if err != nil {
		return nil, err
	}
	folders, err := cn.listFolders()
	cn.logout()
	if err != nil {
		return nil, err
	}
	ours, err := opts.Store.MailboxList(ctx, acct.ID)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	verdicts := make([]*FolderVerdict, len(folders))
	queue := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Connections, len(folders)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *conn
			defer func() {
				if c != nil {
					c.logout()
				}
			}()
			for i := range queue {
				if c == nil {
					var err error
					if c, err = dial(ctx, opts.Source, opts.Password, opts.InsecureTLS); err != nil {
						cancel(err)
						return
					}
				}
				v, err := verifyFolder(ctx, opts.Store, c, dir, state, folders[i], ours)
				if err != nil {
					cancel(err)
					return
				}
				verdicts[i] = v
			}
		}()
	}
feed:
	for i := range folders {
		select {
		case queue <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return verdicts, nil
}

func verifyFolder(ctx context.Context, st Store, cn *conn, dir string, state *State, f folder, ours []store.Mailbox) (*FolderVerdict, error) {
	v := &FolderVerdict{Source: f.Source}
	fs := state.Folders[f.Source]
	var mb *store.Mailbox
	for i := range ours {
		if fs != nil && ours[i].Name == fs.Ours || fs == nil && ours[i].Name == f.Ours {
			mb = &ours[i]
		}
	}
	sel, err := cn.examine(f.Source)
	if err != nil {
		return nil, err
	}
	var src []srcSum
	if sel.NumMessages > 0 {
		if src, err = sourceSums(ctx, cn, f.Source); err != nil {
			return nil, err
		}
	}
	v.SourceCount = len(src)
	if mb == nil {
		v.Ours = f.Ours
		v.Missing = len(src)
		return v, nil
	}
	v.Ours = mb.Name
	metas, err := st.MessageList(ctx, mb.ID)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", mb.Name, err)
	}
	v.OurCount = len(metas)
	mapped := map[uint32]uint32{}
	if fs != nil && fs.UIDValidity == sel.UIDValidity {
		fm, err := openMap(filepath.Join(dir, fs.Map))
		if err != nil {
			return nil, err
		}
		mapped = fm.snapshot()
	}
	type here struct {
		sum  [sha256.Size]byte
		meta *store.MessageMeta
		used bool
	}
	byUID := make(map[uint32]*here, len(metas))
	bySum := map[[sha256.Size]byte][]*here{}
	for i := range metas {
		sum, err := bodySum(ctx, st, mb.ID, metas[i].UID)
		if err != nil {
			return nil, err
		}
		h := &here{sum: sum, meta: &metas[i]}
		byUID[metas[i].UID] = h
		bySum[sum] = append(bySum[sum], h)
	}
	for _, s := range src {
		var h *here
		if o, ok := mapped[s.uid]; ok && byUID[o] != nil && !byUID[o].used {
			h = byUID[o]
			if h.sum != s.sum {
				v.Different++
				h.used = true
				continue
			}
		} else {
			for _, c := range bySum[s.sum] {
				if !c.used {
					h = c
					break
				}
			}
		}
		if h == nil {
			v.Missing++
			continue
		}
		h.used = true
		if h.meta.Flags != s.flags || strings.Join(h.meta.Keywords, " ") != s.kw {
			v.FlagsDiffer++
		}
	}
	for _, h := range byUID {
		if !h.used {
			v.Extra++
		}
	}
	return v, nil
}

// sourceSums fetches every message of the selected folder, hashing each
// as it streams in.
func sourceSums(ctx context.Context, cn *conn, name string) ([]srcSum, error) {
	var all imap.SeqSet
	all.AddRange(1, 0)
	cmd := cn.c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	var out []srcSum
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var s srcSum
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				s.uid = uint32(it.UID)
			case imapclient.FetchItemDataFlags:
				fl, kw := flagsOf(it.Flags)
				s.flags, s.kw = fl, strings.Join(kw, " ")
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil {
					continue
				}
				h := sha256.New()
				if _, err := io.Copy(h, it.Literal); err != nil {
					cmd.Close()
					return nil, fmt.Errorf("fetch from %q: %w", name, err)
				}
				h.Sum(s.sum[:0])
			}
		}
		if s.uid != 0 {
			out = append(out, s)
		}
	}
	if err := cmd.Close(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("fetch from %q: %w", name, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uid < out[j].uid })
	return out, nil
}
