package mime_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"mailroom/internal/mime"
)

// Delivery writes the message to disk and to the scanner in one pass.
func Example() {
	msg := "From: Ann <ann@example.com>\r\nSubject: Hi\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nHello there\r\n" +
		"--b\r\nContent-Type: application/pdf; name=x.pdf\r\n\r\nJVBERi0=\r\n--b--\r\n"

	var disk bytes.Buffer // stands for the message file
	sc := mime.NewScanner(mime.Limits{})
	if _, err := io.Copy(io.MultiWriter(&disk, sc), strings.NewReader(msg)); err != nil {
		panic(err)
	}
	m, err := sc.Close()
	if err != nil {
		panic(err)
	}
	stored := disk.Bytes()

	p, _ := m.PartAt([]int{2}) // BODY[2]
	fmt.Printf("%s/%s %q %q\n", p.Type, p.Subtype, p.Filename, stored[p.BodyStart:p.End])
	fmt.Println(m.Root.Envelope.Subject, m.Root.Envelope.From[0].Mailbox, m.Preview)
	// Output:
	// application/pdf "x.pdf" "JVBERi0="
	// Hi ann Hello there
}
