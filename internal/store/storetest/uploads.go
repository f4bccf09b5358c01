package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
)

var uploadTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"UploadRoundTrip", testUploadRoundTrip},
	{"UploadSizeLimit", testUploadSizeLimit},
	{"UploadPendingQuota", testUploadPendingQuota},
	{"UploadOtherAccount", testUploadOtherAccount},
	{"UploadExpiry", testUploadExpiry},
	{"UploadAccountDeleted", testUploadAccountDeleted},
	{"UploadConcurrent", testUploadConcurrent},
}

// chunkReader yields its bytes a few at a time, as a slow client's body
// arrives: the store must stream, not assume one Read brings it all.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// uploadBytes returns n reproducible pseudo-random octets.
func uploadBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// verifyUploads runs the backend's Verify, fails on any problem and
// returns the summary: its Uploads and Unreferenced say what is left.
func verifyUploads(t *testing.T, st store.Store) store.VerifySummary {
	t.Helper()
	v, ok := st.(store.Verifier)
	if !ok {
		t.Fatal("the store does not implement store.Verifier")
	}
	sum, err := v.Verify(context.Background(), func(p store.Problem) { t.Errorf("verify: %s", p) })
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return sum
}

func readUpload(t *testing.T, st store.Store, accountID int64, id string) []byte {
	t.Helper()
	b, err := st.OpenUpload(context.Background(), accountID, id)
	if err != nil {
		t.Fatalf("open upload %s: %v", id, err)
	}
	defer b.Close()
	data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		t.Fatalf("read upload %s: %v", id, err)
	}
	return data
}

// testUploadRoundTrip: a 5 MiB body streamed in small reads comes back
// byte for byte, with its SHA-256, size, type and a well-formed id.
func testUploadRoundTrip(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "up@example.test")
	data := uploadBytes(1, 5<<20)
	before := time.Now().Add(-time.Second)
	u := must(st.PutUpload(ctx, acct.ID, "application/pdf", &chunkReader{data: data, chunk: 1000}, 10<<20, 50<<20))
	if !store.ValidUploadID(u.ID) || !strings.HasPrefix(u.ID, "u") || len(u.ID) != 27 {
		t.Errorf("upload id %q: want u and 26 lower-case base32 characters", u.ID)
	}
	if u.AccountID != acct.ID || u.Type != "application/pdf" || u.Size != int64(len(data)) || u.SHA256 != sha256.Sum256(data) {
		t.Errorf("upload %+v: want account %d, application/pdf, %d octets, sha256 %x", u, acct.ID, len(data), sha256.Sum256(data))
	}
	if u.Created.Before(before.Truncate(time.Second)) || u.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("upload created %v, want about now", u.Created)
	}
	got := must(st.Upload(ctx, acct.ID, u.ID))
	if got.ID != u.ID || got.Type != u.Type || got.Size != u.Size || got.SHA256 != u.SHA256 || !got.Created.Equal(u.Created) {
		t.Errorf("Upload = %+v, PutUpload returned %+v", got, u)
	}
	if b := readUpload(t, st, acct.ID, u.ID); !bytes.Equal(b, data) {
		t.Errorf("read back %d octets (sha256 %x), want %d (%x)", len(b), sha256.Sum256(b), len(data), sha256.Sum256(data))
	}
	// A range, as a server answering a ranged download reads it.
	b := must(st.OpenUpload(ctx, acct.ID, u.ID))
	part := make([]byte, 1000)
	if n, err := b.ReadAt(part, 3<<20); n != len(part) || err != nil || !bytes.Equal(part, data[3<<20:3<<20+1000]) {
		t.Errorf("ReadAt(1000 at 3 MiB) = %d, %v, or the wrong bytes", n, err)
	}
	b.Close()
	// An empty upload is an upload.
	e := must(st.PutUpload(ctx, acct.ID, "text/plain", strings.NewReader(""), 10, 0))
	if e.Size != 0 || e.SHA256 != sha256.Sum256(nil) || len(readUpload(t, st, acct.ID, e.ID)) != 0 {
		t.Errorf("empty upload: %+v", e)
	}
	if u.ID == e.ID {
		t.Error("two uploads got one id")
	}
	sum := verifyUploads(t, st)
	if sum.Uploads != 2 || sum.Unreferenced != 0 {
		t.Errorf("verify: %+v, want 2 uploads and nothing unreferenced", sum)
	}
	if _, err := st.PutUpload(ctx, acct.ID+1000, "text/plain", strings.NewReader("x"), 0, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("upload for an unknown account: %v, want ErrNotFound", err)
	}
	if sum := verifyUploads(t, st); sum.Unreferenced != 0 {
		t.Errorf("the refused upload left %d bodies", sum.Unreferenced)
	}
}

// testUploadSizeLimit: exactly maxSize is accepted; one octet more is
// ErrUploadTooLarge and leaves no row and no body behind, whether it is
// small or spans several of the body store's pieces.
func testUploadSizeLimit(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "up@example.test")
	for _, limit := range []int64{100, 600 << 10} {
		data := uploadBytes(uint64(limit), int(limit)+1)
		u := must(st.PutUpload(ctx, acct.ID, "application/octet-stream", &chunkReader{data: data[:limit], chunk: 4096}, limit, 0))
		if u.Size != limit {
			t.Errorf("upload of exactly the limit: size %d, want %d", u.Size, limit)
		}
		_, err := st.PutUpload(ctx, acct.ID, "application/octet-stream", &chunkReader{data: data, chunk: 4096}, limit, 0)
		if !errors.Is(err, store.ErrUploadTooLarge) {
			t.Errorf("upload of limit+1 (%d): %v, want ErrUploadTooLarge", limit+1, err)
		}
	}
	sum := verifyUploads(t, st)
	if sum.Uploads != 2 || sum.Blobs != 2 || sum.Unreferenced != 0 {
		t.Errorf("verify: %+v, want the 2 accepted uploads' bodies and nothing else", sum)
	}
}

// testUploadPendingQuota: the account's unexpired uploads may not exceed
// maxPending in total; a refusal leaves nothing behind, and room freed by
// expiry counts again.
func testUploadPendingQuota(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "up@example.test")
	other := newAccount(t, st, "other@example.test")
	put := func(id int64, n int) error {
		_, err := st.PutUpload(ctx, id, "text/plain", bytes.NewReader(uploadBytes(uint64(n), n)), 0, 100)
		return err
	}
	ok(t, put(acct.ID, 60))
	if err := put(acct.ID, 41); !errors.Is(err, store.ErrUploadQuota) {
		t.Errorf("60+41 of 100: %v, want ErrUploadQuota", err)
	}
	ok(t, put(acct.ID, 40)) // exactly 100
	if err := put(acct.ID, 1); !errors.Is(err, store.ErrUploadQuota) {
		t.Errorf("100+1 of 100: %v, want ErrUploadQuota", err)
	}
	ok(t, put(other.ID, 100)) // per account
	if sum := verifyUploads(t, st); sum.Uploads != 3 || sum.Unreferenced != 0 {
		t.Errorf("verify: %+v, want 3 uploads and nothing unreferenced", sum)
	}
	must(st.DeleteExpiredUploads(ctx, time.Now().Add(time.Minute)))
	ok(t, put(acct.ID, 100))
}

// testUploadOtherAccount: an upload is its account's alone.
func testUploadOtherAccount(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "up@example.test")
	other := newAccount(t, st, "other@example.test")
	u := must(st.PutUpload(ctx, acct.ID, "text/plain", strings.NewReader("secret"), 0, 0))
	if _, err := st.Upload(ctx, other.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Upload by another account: %v, want ErrNotFound", err)
	}
	if _, err := st.OpenUpload(ctx, other.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenUpload by another account: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"", "u", "nosuch", u.ID + "a", strings.ToUpper(u.ID), "' OR 1=1 --", store.NewUploadID()} {
		if _, err := st.Upload(ctx, acct.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Upload(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := st.OpenUpload(ctx, acct.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("OpenUpload(%q): %v, want ErrNotFound", id, err)
		}
	}
	if string(readUpload(t, st, acct.ID, u.ID)) != "secret" {
		t.Error("the owner cannot read its upload")
	}
}

// testUploadExpiry: DeleteExpiredUploads removes what was created before
// the cutoff, rows and bodies, and nothing younger.
func testUploadExpiry(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "up@example.test")
	u := must(st.PutUpload(ctx, acct.ID, "text/plain", bytes.NewReader(uploadBytes(3, 300<<10)), 0, 0))
	if n := must(st.DeleteExpiredUploads(ctx, time.Now().Add(-store.UploadLifetime))); n != 0 {
		t.Errorf("a fresh upload expired: %d deleted", n)
	}
	must(st.Upload(ctx, acct.ID, u.ID))
	if n := must(st.DeleteExpiredUploads(ctx, time.Now().Add(2*time.Second))); n != 1 {
		t.Errorf("deleted %d uploads, want 1", n)
	}
	if _, err := st.Upload(ctx, acct.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Upload after expiry: %v, want ErrNotFound", err)
	}
	if _, err := st.OpenUpload(ctx, acct.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenUpload after expiry: %v, want ErrNotFound", err)
	}
	if sum := verifyUploads(t, st); sum.Uploads != 0 || sum.Blobs != 0 || sum.Unreferenced != 0 {
		t.Errorf("verify after expiry: %+v, want no upload and no body", sum)
	}
	if n := must(st.DeleteExpiredUploads(ctx, time.Now().Add(2*time.Second))); n != 0 {
		t.Errorf("deleted %d uploads again", n)
	}
}

// testUploadAccountDeleted: deleting the account deletes its uploads and
// their bodies, and only its own.
func testUploadAccountDeleted(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "up@example.test")
	other := newAccount(t, st, "other@example.test")
	for i := range 3 {
		must(st.PutUpload(ctx, acct.ID, "text/plain", bytes.NewReader(uploadBytes(uint64(i), 200<<10)), 0, 0))
	}
	kept := must(st.PutUpload(ctx, other.ID, "text/plain", strings.NewReader("kept"), 0, 0))
	ok(t, st.DeleteAccount(ctx, acct.Email))
	if sum := verifyUploads(t, st); sum.Uploads != 1 || sum.Blobs != 1 || sum.Unreferenced != 0 {
		t.Errorf("verify after deleting the account: %+v, want only the other account's upload", sum)
	}
	if string(readUpload(t, st, other.ID, kept.ID)) != "kept" {
		t.Error("the other account's upload changed")
	}
}

// testUploadConcurrent: uploads at once get distinct ids and their own
// bytes, and the pending bound holds among them: of ten 100-octet uploads
// against 500, exactly five are kept.
func testUploadConcurrent(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "up@example.test")
	other := newAccount(t, st, "other@example.test")
	type result struct {
		u    store.Upload
		data []byte
		err  error
	}
	results := make([]result, 10)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			data := uploadBytes(uint64(100+i), 100)
			u, err := st.PutUpload(ctx, acct.ID, "text/plain", &chunkReader{data: data, chunk: 7}, 0, 500)
			results[i] = result{u, data, err}
		})
	}
	big := make([]result, 4)
	for i := range big {
		wg.Go(func() {
			data := uploadBytes(uint64(200+i), 300<<10+i)
			u, err := st.PutUpload(ctx, other.ID, "application/octet-stream", &chunkReader{data: data, chunk: 8192}, 0, 0)
			big[i] = result{u, data, err}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	kept := 0
	for _, r := range append(results, big...) {
		if errors.Is(r.err, store.ErrUploadQuota) {
			continue
		}
		if r.err != nil {
			t.Fatalf("concurrent upload: %v", r.err)
		}
		kept++
		if ids[r.u.ID] {
			t.Errorf("id %s handed out twice", r.u.ID)
		}
		ids[r.u.ID] = true
		if b := readUpload(t, st, r.u.AccountID, r.u.ID); !bytes.Equal(b, r.data) || r.u.SHA256 != sha256.Sum256(r.data) {
			t.Errorf("upload %s: read back other bytes", r.u.ID)
		}
	}
	if kept != 5+len(big) {
		t.Errorf("%d uploads kept, want 5 of the account's 10 (500 of 1000 octets) and the other's %d", kept, len(big))
	}
	if sum := verifyUploads(t, st); sum.Uploads != int64(kept) || sum.Unreferenced != 0 {
		t.Errorf("verify: %+v, want %d uploads and nothing unreferenced", sum, kept)
	}
}
