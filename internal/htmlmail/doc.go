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
//     math, …) are removed with their content. Remote images are blocked
//     here and counted.
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
// <style> blocks are dropped, not sanitised: safely rewriting stylesheets
// (selectors that escape the message, @import, @font-face, url()) is much
// more work than the layout it would save, and inline styles, which
// newsletters repeat anyway for clients like Gmail, are kept. CSS url() is
// always removed, even with AllowRemoteImages, as is position (overlays that
// imitate the webmail's own UI).
package htmlmail
