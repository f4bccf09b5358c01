package web

import (
	"html/template"
)

// fieldErrors are a form's validation errors by the id of the field each
// is about, shown beside that field (fieldError) and tied to it for
// screen readers (fieldAttrs), with what was typed kept in the form.
type fieldErrors map[string]string

// fieldAttrs are the attributes of a field with an error: marked
// invalid, described by its error, and focused (the first one wins).
func fieldAttrs(errs fieldErrors, id string) template.HTMLAttr {
	if errs[id] == "" {
		return ""
	}
	return template.HTMLAttr(` aria-invalid="true" aria-describedby="` + template.HTMLEscapeString(id) + `-err" autofocus`)
}

// fieldError is the error beside a field, announced when the page shows
// it (role alert), or nothing.
func fieldError(errs fieldErrors, id string) template.HTML {
	msg := errs[id]
	if msg == "" {
		return ""
	}
	return template.HTML(`<p class="field-error" id="` + template.HTMLEscapeString(id) + `-err" role="alert">` +
		template.HTMLEscapeString(msg) + `</p>`)
}
