package web

import (
	"io"
	"strconv"
	"strings"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// maxShownText bounds the text or HTML of a message shown on a page;
// larger bodies are cut (the whole is still downloadable).
const maxShownText = 4 << 20

// partReader returns the decoded content of a part (transfer encoding
// undone), streamed from the stored body. An unknown transfer encoding is
// offered as it is stored.
func partReader(body store.Body, p *mime.Part) io.Reader {
	return mime.NewTransferReader(io.NewSectionReader(body, p.BodyStart, p.End-p.BodyStart), p.Encoding)
}

// partText returns a text part as UTF-8, its charset converted; text in an
// unknown charset is shown as UTF-8, bytes that are not replaced.
func partText(body store.Body, p *mime.Part) (string, bool) {
	r := mime.CharsetReader(param(p.Params, "charset"), partReader(body, p))
	data, err := io.ReadAll(io.LimitReader(r, maxShownText+1))
	if err != nil && len(data) == 0 {
		return "", false
	}
	cut := len(data) > maxShownText
	if cut {
		data = data[:maxShownText]
	}
	return strings.ToValidUTF8(string(data), "\uFFFD"), cut
}

func param(ps []mime.Param, name string) string {
	for _, p := range ps {
		if strings.EqualFold(p.Name, name) {
			return p.Value
		}
	}
	return ""
}

// attachment is a downloadable part.
type attachment struct {
	Path     string // part number, "2" or "1.3"
	Name     string
	Type     string
	Size     int64 // encoded size (what the mail carries)
	Inline   bool
	CID      string
	IsImage  bool
	Download string
}

// walk visits every part with its IMAP part number.
func walk(p *mime.Part, number string, fn func(p *mime.Part, number string)) {
	fn(p, number)
	if p.Type == "multipart" {
		for i, c := range p.Parts {
			n := strconv.Itoa(i + 1)
			if number != "" {
				n = number + "." + n
			}
			walk(c, n, fn)
		}
	}
}

// attachments lists the parts a user would download: those with a file
// name or an attachment disposition, and non-text leaves.
func attachments(st *mime.Message) []attachment {
	var out []attachment
	walk(st.Root, "", func(p *mime.Part, number string) {
		if p.Type == "multipart" || number == "" && p.Type == "text" {
			return
		}
		if number == "" {
			number = "1"
		}
		isText := p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "html")
		if isText && p.Disposition != "attachment" && p.Filename == "" {
			return // a body, shown on the page
		}
		name := p.Filename
		if name == "" {
			name = "part-" + number + "." + p.Subtype
		}
		cid := strings.Trim(p.ID, "<> ")
		out = append(out, attachment{
			Path: number, Name: name, Type: p.Type + "/" + p.Subtype, Size: p.End - p.BodyStart,
			Inline: p.Disposition == "inline" && cid != "", CID: cid, IsImage: p.Type == "image",
		})
	})
	return out
}

// findPart returns the part with an IMAP part number.
func findPart(st *mime.Message, number string) *mime.Part {
	var found *mime.Part
	walk(st.Root, "", func(p *mime.Part, n string) {
		if n == number || n == "" && number == "1" && p.Type != "multipart" {
			found = p
		}
	})
	return found
}

// displayParts picks what the page shows: the HTML alternative if there is
// one, else the plain text (RFC 2046: the last alternative is the richest
// the sender offered).
func displayParts(st *mime.Message) (html, plain *mime.Part) {
	walk(st.Root, "", func(p *mime.Part, _ string) {
		if p.Type != "text" || p.Disposition == "attachment" || p.Filename != "" {
			return
		}
		switch p.Subtype {
		case "html":
			if html == nil {
				html = p
			}
		case "plain":
			if plain == nil {
				plain = p
			}
		}
	})
	return html, plain
}
