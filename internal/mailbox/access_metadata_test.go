package mailbox

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"mailroom/internal/acl"
	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// TestMetadataRights checks RFC 5464 3.3's rights on another user's
// mailbox, right by right: reading and setting private entries needs "l"
// and one of "rswip", setting shared ones "w" too; a mailbox the user
// cannot see is not found.
func TestMetadataRights(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	kim, err := f.st.CreateAccount(ctx, "kim@example.test", auth.Credentials{Argon2id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ann := f.reg.User(f.inbox.AccountID, "ann@example.test")
	team, err := ann.CreateMailbox(ctx, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	owned, err := ann.Folder(ctx, "Team")
	if err != nil {
		t.Fatal(err)
	}
	if err := ann.SetFolderMetadata(ctx, owned, []store.MetadataEntry{{Name: "/Shared/Comment", Value: []byte("team")}}); err != nil {
		t.Fatal(err)
	}
	user := f.reg.User(kim.ID, "kim@example.test")
	name := OtherUsersPrefix + "ann@example.test/Team"
	private := []store.MetadataEntry{{Name: "/private/comment", Value: []byte("kim's")}}
	shared := []store.MetadataEntry{{Name: "/shared/comment", Value: []byte("by kim")}}
	for _, tc := range []struct {
		rights          string
		read, setShared error // nil: allowed; read also stands for setting a private entry
	}{
		{rights: "", read: store.ErrNotFound},
		{rights: "l", read: ErrNoPermission},
		{rights: "lr", setShared: ErrNoPermission},
		{rights: "li", setShared: ErrNoPermission},
		{rights: "lp", setShared: ErrNoPermission},
		{rights: "lw"},
		{rights: "r", read: ErrNoPermission}, // visible, but no "l"
		{rights: "lrswi"},
	} {
		t.Run(fmt.Sprintf("%q", tc.rights), func(t *testing.T) {
			r, err := acl.Parse(tc.rights)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.st.ModifyACL(ctx, team.ID(), "kim@example.test", acl.Replace, r); err != nil {
				t.Fatal(err)
			}
			folder, err := user.Folder(ctx, name)
			if tc.rights == "" {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Folder without rights: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := user.FolderMetadata(ctx, folder, []string{"/shared/comment", "/private/comment"}, 0)
			if !errors.Is(err, tc.read) || (tc.read == nil && (len(got) == 0 || got[len(got)-1].Name != "/shared/comment")) {
				t.Fatalf("FolderMetadata: %v %v, want error %v", got, err, tc.read)
			}
			want := tc.read
			if err := user.SetFolderMetadata(ctx, folder, private); !errors.Is(err, want) {
				t.Fatalf("setting a private entry: %v, want %v", err, want)
			}
			if tc.setShared != nil {
				want = tc.setShared
			}
			if err := user.SetFolderMetadata(ctx, folder, shared); !errors.Is(err, want) {
				t.Fatalf("setting a shared entry: %v, want %v", err, want)
			}
		})
	}
	// Kim's private entry is kim's: ann does not see it.
	got, err := ann.FolderMetadata(ctx, owned, []string{"/private"}, store.MetadataDepthInfinity)
	if err != nil || len(got) != 0 {
		t.Fatalf("ann sees %v, %v", got, err)
	}
}

// TestMetadataComputedAndServer checks /private/specialuse (computed,
// read-only) and the server's entries: private ones settable by
// anyone, shared ones by nobody through IMAP.
func TestMetadataComputedAndServer(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	ann := f.reg.User(f.inbox.AccountID, "ann@example.test")
	drafts, err := ann.CreateMailbox(ctx, "MyDrafts", store.SpecialDrafts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ann.SetFolderMetadata(ctx, drafts, []store.MetadataEntry{{Name: "/private/speciaLuse/x", Value: []byte("stored")}, {Name: "/private/a", Value: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	got, err := ann.FolderMetadata(ctx, drafts, []string{"/private"}, store.MetadataDepthInfinity)
	if err != nil || fmt.Sprintf("%q", got) != `[{"/private/a" "a"} {"/private/specialuse" "\\Drafts"} {"/private/specialuse/x" "stored"}]` {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = ann.FolderMetadata(ctx, drafts, []string{"/private"}, store.MetadataDepth0)
	if err != nil || len(got) != 0 {
		t.Fatalf("DEPTH 0 of /private: %q, %v", got, err)
	}
	err = ann.SetFolderMetadata(ctx, drafts, []store.MetadataEntry{{Name: "/PRIVATE/SPECIALUSE", Value: []byte(`\Sent`)}})
	if !errors.Is(err, ErrMetadataReadOnly) {
		t.Fatalf("setting /private/specialuse: %v", err)
	}
	inbox, err := ann.Folder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ann.FolderMetadata(ctx, inbox, []string{SpecialUseEntry}, 0); err != nil || len(got) != 0 {
		t.Fatalf("a mailbox without a special use: %q, %v", got, err)
	}

	if err := ann.SetServerMetadata(ctx, []store.MetadataEntry{{Name: "/private/vendor/example/theme", Value: []byte("dark")}}); err != nil {
		t.Fatal(err)
	}
	if err := ann.SetServerMetadata(ctx, []store.MetadataEntry{{Name: "/shared/comment", Value: []byte("motd")}}); !errors.Is(err, ErrNoPermission) {
		t.Fatalf("setting a shared server entry: %v", err)
	}
	got, err = ann.ServerMetadata(ctx, []string{"/private", "/shared"}, store.MetadataDepthInfinity)
	if err != nil || fmt.Sprintf("%q", got) != `[{"/private/vendor/example/theme" "dark"}]` {
		t.Fatalf("server entries: %q, %v", got, err)
	}
}
