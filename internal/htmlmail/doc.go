// Package htmlmail turns the body of an email into HTML that is safe to show
// in the webmail.
//
// Sanitize takes the text/html part of a message (in any charset) and returns
// an HTML fragment that cannot run script, submit forms, navigate the page it
// is shown in, or load anything from the network unless the user asked for
// remote images. PlainToHTML turns a text/plain part into escaped HTML with
// clickable links and quoted blocks.
//
// The webmail shows the result inside <iframe sandbox srcdoc=…> (no
// allow-scripts; allow-same-origin so that cid: images load with the
// session) under a strict Content-Security-Policy.
// That is defence in depth only: this package must be safe on its own, so the
// output is checked as a browser would see it (see below). Links are emitted
// with target="_blank", so the iframe needs "allow-popups
// allow-popups-to-escape-sandbox" for them to open at all.
//
// # How Sanitize works
//
//  1. The input is limited to MaxInputSize bytes (and 100,000 tags, which
//     bounds the memory the parse trees take) and decoded to UTF-8. A byte
//     order mark wins over the declared charset; an empty or unknown charset
//     falls back to <meta> sniffing, then UTF-8 if valid, then windows-1252.
//     UTF-7 is deliberately not supported, so "+ADw-script+AD4-" stays text.
//  2. The document is parsed with golang.org/x/net/html with scripting
//     disabled, as the sandboxed iframe will parse it (this matters for
//     <noscript>). Everything outside <body> is discarded, the <body> itself
//     becomes a <div> carrying its colours, and elements whose content must
//     never be shown (script, style, iframe, object, form controls, svg,
//     math, …) are removed with their content (with Options.Styles the
//     <style> sheets were read first: see below). Remote images are
//     blocked here and counted.
//  3. The result goes through a bluemonday policy: the UGC policy, tightened
//     (no relative URLs, no data: except raster images) and widened for the
//     table-and-font layouts newsletters use, plus a safe subset of inline
//     CSS.
//  4. The bluemonday output is parsed again and walked with an allowlist of
//     elements, attributes, URL schemes and CSS properties. This pass maps
//     cid: images, sets target/rel on links and is the last word on what
//     survives; it does not trust that steps 2–3 got everything.
//  5. The rendered output is parsed once more and verified; if the
//     serialisation changed meaning on re-parse (mutation XSS) Sanitize fails
//     rather than return something unchecked.
//
// # Stylesheets
//
// With Options.Styles the message's <style> sheets are kept too, in
// Result.CSS, for a caller that shows Result.HTML inside an element with id
// ScopeID and the CSS in a <style> of the same document (the app's render
// endpoint, the message page's frame). Class attributes are kept then, for
// the sheets to match; without Styles sheets and classes are dropped.
//
//   - Each sheet is tokenized per CSS Syntax Level 3 (csstoken.go), so it is
//     judged on the tokens a browser sees (escapes, comments, url tokens),
//     and re-serialised from those tokens: nothing is copied through, and
//     the output contains no '<', so "</style>" cannot be formed.
//   - Every selector is scoped under #ScopeID. html, body and :root
//     leading a selector become the wrapper itself; a root anywhere else,
//     a sibling of it, or any selector outside a small grammar (type,
//     class, id, attribute, state and structural pseudo-classes, :nth-*())
//     drops the rule.
//   - Declarations pass the same property allowlist and value validators
//     as style attributes, plus background-image. url() is allowed only in
//     background and background-image and is decided like an <img src>: cid:
//     mapped, data: raster images kept, remote ones only with
//     AllowRemoteImages (else counted in RemoteBlocked), anything else
//     dropped. position, behavior, -moz-binding, expression(), content,
//     custom properties and every function but rgb()/hsl() never pass.
//   - @media is kept (a plain query; its rules sanitised, no nesting); every
//     other at-rule (@import, @charset, @font-face, @keyframes, …) and CSS
//     nesting is dropped.
//   - Bounds: MaxStyleSize bytes of sheets in all, 100,000 tokens per
//     sheet, 4,000 rules, block nesting 16 (a deeper sheet is dropped whole),
//     64 selectors and 200 declarations per rule.
//
// Style attributes never get url(), even with AllowRemoteImages, nor
// position (overlays that imitate the webmail's own UI).
package htmlmail
