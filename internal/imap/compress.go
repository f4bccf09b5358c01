package imap

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"mailroom/internal/connbuf"
	"mailroom/internal/inflate"
)

// COMPRESS=DEFLATE (RFC 4978): after the tagged OK, both directions are a
// raw DEFLATE stream (RFC 1951, no zlib header) until the connection ends.
// Mobile clients on metered links use it; a FETCH of headers or of a text
// part shrinks several times.
//
// Client to server goes through internal/inflate, not compress/flate:
// clients flush their commands with zlib's Z_PARTIAL_FLUSH (mbsync) or
// Z_SYNC_FLUSH, and compress/flate hands out nothing after a partial
// flush until more input comes, which the client does not send before
// the reply. Server to client is compress/flate's Writer, sync-flushed
// whenever the session flushes (below), so that no response waits in the
// compressor while the server waits for the client.

// compressLevel trades CPU for bandwidth. BestSpeed: most of the bytes are
// message text, which compresses well at any level, and the server pays
// for the compression of every session at once.
const compressLevel = flate.BestSpeed

func cmdCompress(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadCompress()
	if err != nil {
		return err
	}
	if args.Mechanism != "DEFLATE" {
		// An unknown argument is BAD (RFC 4978 section 3).
		return bad("compression mechanism %s is not supported (DEFLATE is)", args.Mechanism)
	}
	if s.compressed {
		// The mechanism is active already: NO with COMPRESSIONACTIVE
		// (RFC 4978 section 3).
		return no("COMPRESSIONACTIVE", "DEFLATE is active already")
	}
	// Below the compressor, a buffer: compress/flate writes in pieces of
	// a few hundred bytes, each of which would be a syscall and, over
	// TLS, a record of its own.
	out := connbuf.NewWriter(s.conn)
	fw, err := flate.NewWriter(out, compressLevel)
	if err != nil {
		return fmt.Errorf("COMPRESS: %w", err)
	}
	if err := s.ok(tag, "", "DEFLATE active"); err != nil {
		return err
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	// The client compresses "starting with the first command after
	// COMPRESS" (RFC 4978 section 3) and must wait for the OK before it
	// sends it; if it did not wait, what was read past the command's
	// CRLF is therefore the start of its DEFLATE stream, not plain text.
	var in io.Reader = s.conn
	if n := s.br.Buffered(); n > 0 {
		early, err := s.br.Peek(n)
		if err != nil {
			return fmt.Errorf("COMPRESS: %w", err)
		}
		in = io.MultiReader(bytes.NewReader(bytes.Clone(early)), s.conn)
	}
	s.br.Reset(inflate.NewReader(in))
	s.bw.Reset(&syncFlusher{fw: fw, out: out})
	s.compressed = true
	s.newCodec()
	return nil
}

// syncFlusher sync-flushes the DEFLATE stream after every write, so that
// what the session flushed reaches the client now and not when a deflate
// block fills: connbuf.Writer writes to it only when it flushes, when its
// buffer is full, or for a large literal (one write).
type syncFlusher struct {
	fw  *flate.Writer
	out *connbuf.Writer
}

func (f *syncFlusher) Write(p []byte) (int, error) {
	n, err := f.fw.Write(p)
	if err == nil {
		err = f.fw.Flush()
	}
	if ferr := f.out.Flush(); err == nil {
		err = ferr
	}
	return n, err
}
