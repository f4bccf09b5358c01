package imap

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

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
	// Below the compressor, a buffer: compress/flate writes in pieces of
	// a few hundred bytes, each of which would be a syscall and, over
	// TLS, a record of its own.
	s.bw.Reset(&syncFlusher{pool: &s.srv.deflaters, out: connbuf.NewWriter(s.conn)})
	s.compressed = true
	s.newCodec()
	return nil
}

// syncFlusher compresses what the session writes and sync-flushes the
// DEFLATE stream after every write, so that what the session flushed
// reaches the client now and not when a deflate block fills: connbuf.Writer
// writes to it when it flushes, when its buffer is full, or for a large
// literal (one write).
//
// A compress/flate Writer holds 1.2 MB, far too much to keep for every
// idle session. It is only needed while a burst of output lasts: after a
// sync flush the stream is byte-aligned and complete, and a compressor
// that starts afresh there writes valid blocks the client decodes as the
// continuation (it merely cannot refer back to what came before). So the
// session takes one from the server's pool for each burst and gives it
// back at the burst's end: a write shorter than connbuf's buffer. A full
// buffer's write keeps it, since more of the same response follows, and
// its history helps.
type syncFlusher struct {
	pool *sync.Pool
	fw   *flate.Writer // nil between bursts
	out  *connbuf.Writer
}

func (f *syncFlusher) Write(p []byte) (int, error) {
	if f.fw == nil {
		if fw, ok := f.pool.Get().(*flate.Writer); ok {
			fw.Reset(f.out)
			f.fw = fw
		} else {
			fw, err := flate.NewWriter(f.out, compressLevel)
			if err != nil {
				return 0, fmt.Errorf("COMPRESS: %w", err)
			}
			f.fw = fw
		}
	}
	n, err := f.fw.Write(p)
	if err == nil {
		err = f.fw.Flush()
	}
	if ferr := f.out.Flush(); err == nil {
		err = ferr
	}
	if len(p) != connbuf.WriteSize || err != nil {
		f.fw.Reset(io.Discard) // drop the reference to the connection
		f.pool.Put(f.fw)
		f.fw = nil
	}
	return n, err
}

// corruptStream says BYE if err is the client's DEFLATE stream failing to
// decode (nothing after it can be read), and returns errBye then; else it
// returns err.
func (s *session) corruptStream(err error) error {
	var ce *inflate.CorruptError
	if !errors.As(err, &ce) {
		return err
	}
	s.srv.log.Debug("corrupt COMPRESS stream", s.logger("err", err)...)
	s.bw.WriteString("* BYE the compressed stream is corrupt: " + ce.Reason + "\r\n")
	return errBye
}
