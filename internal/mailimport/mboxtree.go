package mailimport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"mailroom/internal/store"
)

// MboxExt ends the name of every file of an mbox tree: a directory of
// mbox files, one per folder, as `mailroom export --format mbox` writes
// it. "Lists/Dev.mbox" is the folder Lists/Dev; a folder and its children
// do not collide ("Lists.mbox" beside "Lists/").
const MboxExt = ".mbox"

// MboxTreePath is the file of a folder in an mbox tree. Levels that
// would not be plain file names are percent-escaped (EscapeLevel).
func MboxTreePath(name string) (string, error) {
	levels := strings.Split(name, store.Delimiter)
	for i, l := range levels {
		if l == "" {
			return "", fmt.Errorf("mailbox name %q has an empty level", name)
		}
		levels[i] = escapeLevel(l)
	}
	return filepath.Join(levels...) + MboxExt, nil
}

// mboxTreeFolder is the folder a file of an mbox tree (its path relative
// to the tree, with MboxExt) goes into.
func mboxTreeFolder(rel string) string {
	levels := strings.Split(filepath.ToSlash(strings.TrimSuffix(rel, MboxExt)), "/")
	for i, l := range levels {
		levels[i] = unescapeLevel(l)
	}
	name := strings.Join(levels, store.Delimiter)
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	return name
}

// escapeLevel makes one level of a mailbox name a safe file name: "%",
// "\", NUL and a leading "." (hidden files, "..") become %XX.
func escapeLevel(l string) string {
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '%' || c == 0 || c == '\\' || (c == '.' && i == 0) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unescapeLevel undoes escapeLevel; a "%" not followed by two hex digits
// is kept as it is.
func unescapeLevel(l string) string {
	if !strings.Contains(l, "%") {
		return l
	}
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		if l[i] == '%' && i+2 < len(l) {
			if v, ok := unhex(l[i+1], l[i+2]); ok {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(l[i])
	}
	return b.String()
}

func unhex(a, b byte) (byte, bool) {
	h := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		}
		return 0, false
	}
	x, ok1 := h(a)
	y, ok2 := h(b)
	return x<<4 | y, ok1 && ok2
}

// mboxTreeFiles lists the regular files ending in MboxExt under root,
// relative to it, sorted (INBOX first: it is made first on a new account
// anyway, and a summary in that order reads naturally).
func mboxTreeFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), MboxExt) {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		ii, ji := mboxTreeFolder(out[i]) == "INBOX", mboxTreeFolder(out[j]) == "INBOX"
		if ii != ji {
			return ii
		}
		return out[i] < out[j]
	})
	return out, nil
}

// mboxTree imports every file of an mbox tree into its folder, each with
// its own progress state (an interrupted import resumes in the file it
// stopped in).
func (im *importer) mboxTree(root string, files []string) error {
	allDone := true
	infos := make([]os.FileInfo, len(files))
	im.tree = true
	for i, rel := range files {
		fi, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		infos[i] = fi
		im.treeBytes += fi.Size()
	}
	for i, rel := range files {
		path, fi := filepath.Join(root, rel), infos[i]
		im.statePath = statePath(im.opts.StateDir, im.state.Account, path)
		st, err := loadState(im.statePath)
		if err != nil {
			return err
		}
		st.Account, st.Path = im.state.Account, path
		im.state = st
		im.res.AlreadyDone = false
		if err := im.mbox(path, fi, mboxTreeFolder(rel)); err != nil {
			return err
		}
		allDone = allDone && im.res.AlreadyDone
		im.priorBytes += fi.Size()
	}
	im.res.AlreadyDone = allDone
	return nil
}

// errNoMail: a directory that is neither a Maildir nor an mbox tree.
var errNoMail = errors.New("neither an mbox file, a Maildir (no cur/ or new/) nor a directory of " + MboxExt + " files")
