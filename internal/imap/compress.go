package imap

import (
	"compress/flate"
	"fmt"
	"io"
)

// COMPRESS=DEFLATE (RFC 4978): after the tagged OK, both directions are a
// raw DEFLATE stream (RFC 1951, no zlib header) until the connection ends.
// Mobile clients on metered links use it; a FETCH of headers or of a text
// part shrinks several times.

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
	fw, err := flate.NewWriter(s.conn, compressLevel)
	if err != nil {
		return fmt.Errorf("COMPRESS: %w", err)
	}
	if err := s.ok(tag, "", "DEFLATE active"); err != nil {
		return err
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.br.Buffered() > 0 {
		// The client must wait for the OK before compressing (RFC 4978
		// section 3); bytes read past the command were sent before it,
		// uncompressed or not, and there is no telling which.
		return errBye
	}
	s.br.Reset(flate.NewReader(s.conn))
	s.bw.Reset(&syncFlusher{fw})
	s.compressed = true
	s.newCodec()
	return nil
}

// syncFlusher flushes the DEFLATE stream after every write, so that what
// the session flushed reaches the client now and not when a deflate block
// fills: connbuf.Writer writes to it only when it flushes (or for a large
// literal, which is one write).
type syncFlusher struct{ fw *flate.Writer }

func (f *syncFlusher) Write(p []byte) (int, error) {
	n, err := f.fw.Write(p)
	if err != nil {
		return n, err
	}
	return n, f.fw.Flush()
}

var _ io.Writer = (*syncFlusher)(nil)
