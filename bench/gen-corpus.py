#!/usr/bin/env python3
"""Write a deterministic corpus of N realistic messages as an mbox (mboxrd), streamed.

    bench/gen-corpus.py [-n N] [-s SEED] [-o OUT]        # default 100000 messages, seed 1, stdout

The same N and seed give the same bytes on every machine (Python's random with
a fixed seed; no clock, no locale). Messages are written one by one, never held
together, so memory stays flat at any N. Built from ../shared/peers/make-mbox.py's
idea (varied MIME, threads, sizes), rewritten to be fast enough for 1,000,000
messages and to give the search benchmark what it needs:

- languages: English, German, French, Russian, Greek, Chinese, Japanese, as
  sentences from templates whose nouns are drawn with Zipf weights, so common
  and rare words (and 2-character CJK words, unspaced) occur at realistic rates;
- structures: text/plain (7bit, 8bit, quoted-printable, base64),
  multipart/alternative, HTML-only, multipart/mixed with base64 attachments
  (some file names RFC 2231-encoded), forwarded message/rfc822, replies that
  quote their parent;
- sizes: mostly 1-10 KB of text; 1-3 attachments of 5-150 KB in all, about 1
  attachment in 500 of 1-3 MB; mean 21-26 KB;
- headers: RFC 2047 (B and Q) names and subjects, dates over 2015-2025 in
  varied time zones, Message-ID always present and unique;
- threads: In-Reply-To/References chains of varied depth (a few long ones),
  some parents delivered after their replies, some "Re:" subjects without
  references, "Fwd:" subjects.

Marker words the query list relies on (bench/searchcmp):
  "quokka"            rare, in about 1 message in 2,000
  emma.wilson@example.com, juergen.mueller@example.de (Jürgen Müller): the two most frequent senders
  "Kostenvoranschlag" only in attachment file names
  "Zephyrine"         only in the From header of forwarded (attached) messages
The mbox "From " line carries the delivery time (the loaders' INTERNALDATE),
minutes to a day after the Date header (for the out-of-order parents, later).
Only the standard library is used.
"""
import argparse
import base64
import binascii
import heapq
import random
import sys
import time

# ---- vocabulary: per language, sentence templates with {n} (noun), {p} (person), {d} (day) ----
LANG = {
    "en": dict(
        nouns=("meeting report budget schedule deadline release server invoice customer contract "
               "shipment order payment account password review patch branch ticket proposal "
               "presentation agenda quarter forecast migration backup database outage warehouse "
               "supplier holiday interview candidate offer roadmap milestone dashboard license "
               "renewal audit compliance firmware router printer spreadsheet template draft "
               "newsletter webinar conference venue catering itinerary passport visa refund "
               "warranty telescope harpsichord lighthouse marmalade zeppelin").split(),
        sent=("Please send the {n} before {d}.", "The budget review is scheduled for {d}.",
              "Could you check the {n} with {p}?", "I attached the updated {n} for your review.",
              "We still have not received the {n} from the supplier.",
              "Let me know if the {n} works for you.", "Thanks for the quick reply about the {n}.",
              "{p} will present the {n} at the next meeting.",
              "The {n} was moved to {d} because of the holiday.",
              "As discussed, the {n} needs another round of budget review.",
              "Our team finished the {n} ahead of the deadline.",
              "I am out of the office until {d}, please contact {p}.",
              "Can we talk about the {n} and the {n} tomorrow?",
              "The customer asked whether the {n} includes the {n}."),
        days="Monday Tuesday Wednesday Thursday Friday next_week the_end_of_the_month".split(),
        subj=("{n} for {d}", "Question about the {n}", "Updated {n}", "{n} and {n}", "Reminder: {n}",
              "Draft {n} attached", "Notes from the {n} meeting"),
        first="James Mary Robert Patricia John Jennifer Michael Linda David Susan Emma Oliver".split(),
        last="Smith Johnson Brown Taylor Wilson Clarke Walker Wright Baker Hughes".split(),
        dom=["example.com", "corp.example.com", "mail.example.net"],
        quote="wrote"),
    "de": dict(
        nouns=("Besprechung Bericht Rechnung Angebot Lieferung Prüfung Größe Gebühr Änderung "
               "Übersicht Kündigung Vertrag Termin Bestellung Zahlung Straße Abschluss Entwurf "
               "Mitarbeiter Urlaub Schlüssel Gespräch Unterlagen Kunde Lösung Veröffentlichung "
               "Fahrplan Frühstück Gemüsegarten Eichhörnchen").split(),
        sent=("Bitte schicken Sie mir den {n} bis {d}.", "Die {n} ist für {d} geplant.",
              "Können Sie die {n} mit {p} prüfen?", "Anbei die überarbeitete {n}.",
              "Wir haben die {n} noch nicht erhalten.", "Vielen Dank für die schnelle Antwort zur {n}.",
              "{p} übernimmt die {n} ab {d}.", "Die Größe der {n} ist noch unklar.",
              "Mit freundlichen Grüßen und bis {d}."),
        days="Montag Dienstag Mittwoch Donnerstag Freitag nächste_Woche Monatsende".split(),
        subj=("{n} für {d}", "Frage zur {n}", "Neue {n}", "Erinnerung: {n}", "{n} und {n}"),
        first="Jürgen Günther Björn Anna Lena Jörg Sabine Klaus Käthe Uwe".split(),
        last="Müller Schmidt Schneider Fischer Weiß Schäfer Köhler Groß Bäcker Hoffmann".split(),
        dom=["example.de", "firma.example.de"], quote="schrieb"),
    "fr": dict(
        nouns=("réunion rapport facture devis livraison commande paiement contrat échéance "
               "présentation budget équipe congé dossier résumé planning fournisseur clé "
               "déménagement anniversaire bibliothèque château").split(),
        sent=("Pouvez-vous envoyer le {n} avant {d} ?", "La {n} est prévue pour {d}.",
              "Je vous joins le {n} mis à jour.", "Merci pour votre réponse rapide concernant la {n}.",
              "{p} s'occupe du {n} à partir de {d}.", "Nous n'avons pas encore reçu la {n}.",
              "Bien cordialement, et à {d}."),
        days="lundi mardi mercredi jeudi vendredi la_semaine_prochaine".split(),
        subj=("{n} pour {d}", "Question sur le {n}", "Rappel : {n}", "{n} et {n}"),
        first="François Hélène Éric Amélie Benoît Céline Jérôme Zoé".split(),
        last="Dubois Lefèvre Moreau Girard Bérubé Durand Fontaine".split(),
        dom=["example.fr"], quote="a écrit"),
    "ru": dict(
        nouns=("встреча отчёт счёт договор заказ оплата поставка бюджет проект сервер пароль "
               "клиент совещание график отпуск презентация").split(),
        sent=("Пожалуйста, пришлите {n} до {d}.", "Встреча перенесена на {d}.",
              "Прилагаю обновлённый {n}.", "Спасибо за быстрый ответ про {n}.",
              "{p} займётся {n} с {d}.", "Мы ещё не получили {n}.", "С уважением, до {d}."),
        days="понедельник вторник среда четверг пятница следующая_неделя".split(),
        subj=("{n} на {d}", "Вопрос про {n}", "Напоминание: {n}", "{n} и {n}"),
        first="Иван Ольга Дмитрий Наталья Сергей Екатерина".split(),
        last="Иванов Петрова Смирнов Кузнецова Попов Соколова".split(),
        dom=["example.ru"], quote="написал"),
    "el": dict(
        nouns=("συνάντηση αναφορά τιμολόγιο σύμβαση παραγγελία πληρωμή προϋπολογισμός έργο "
               "πελάτης πρόγραμμα άδεια παρουσίαση").split(),
        sent=("Παρακαλώ στείλτε την {n} έως {d}.", "Η {n} μεταφέρθηκε για {d}.",
              "Σας επισυνάπτω την ενημερωμένη {n}.", "Ευχαριστώ για τη γρήγορη απάντηση σχετικά με την {n}.",
              "Ο {p} θα αναλάβει την {n}.", "Με εκτίμηση."),
        days="Δευτέρα Τρίτη Τετάρτη Πέμπτη Παρασκευή".split(),
        subj=("{n} για {d}", "Ερώτηση για {n}", "Υπενθύμιση: {n}"),
        first="Γιώργος Μαρία Νίκος Ελένη Κώστας Σοφία".split(),
        last="Παπαδόπουλος Γεωργίου Νικολάου Οικονόμου".split(),
        dom=["example.gr"], quote="έγραψε"),
    "zh": dict(
        nouns="会议 报告 预算 合同 发票 订单 付款 客户 项目 服务器 密码 计划 供应商 假期 演示 审核 数据库 仓库".split(),
        sent=("请在{d}之前把{n}发给我。", "{n}已经改到{d}了。", "附件是更新后的{n}，请查收。",
              "谢谢你关于{n}的快速回复。", "{p}从{d}开始负责{n}。", "我们还没有收到{n}。",
              "关于{n}和{n}，我们明天再讨论。", "此致敬礼。"),
        days="星期一 星期二 星期三 星期四 星期五 下周 月底".split(),
        subj=("关于{n}的问题", "{n}（{d}）", "提醒：{n}", "{n}和{n}"),
        first="伟 芳 娜 敏 静 磊 洋 勇".split(), last="王 李 张 刘 陈 杨 赵 黄".split(),
        dom=["example.cn"], quote="写道"),
    "ja": dict(
        nouns=("会議 報告書 予算 契約 請求書 注文 支払い 顧客 案件 サーバー パスワード 予定 "
               "休暇 資料 見積書 打ち合わせ メール 出張").split(),
        sent=("{d}までに{n}を送ってください。", "{n}は{d}に変更になりました。",
              "更新した{n}を添付します。", "{n}について早速のご返信ありがとうございます。",
              "{p}さんが{d}から{n}を担当します。", "まだ{n}を受け取っていません。",
              "よろしくお願いいたします。"),
        days="月曜日 火曜日 水曜日 木曜日 金曜日 来週 月末".split(),
        subj=("{n}について", "{n}（{d}）", "【確認】{n}", "{n}と{n}"),
        first="太郎 花子 健 由美 翔太 さくら".split(), last="田中 佐藤 鈴木 高橋 渡辺 伊藤".split(),
        dom=["example.jp"], quote="さんは書きました"),
}
LANGS = [("en", 40), ("de", 15), ("fr", 12), ("ru", 8), ("el", 5), ("zh", 10), ("ja", 10)]
CJK = ("zh", "ja")
ZONES = ["-0800", "-0700", "-0500", "-0300", "+0000", "+0100", "+0200", "+0300", "+0530", "+0800", "+0900", "+1000"]
ATTACH = [("application/pdf", "report_{i}.pdf"), ("image/png", "screenshot_{i}.png"),
          ("image/jpeg", "IMG_{i}.jpg"), ("application/zip", "archive_{i}.zip"),
          ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Vertrag_{i}.docx"),
          ("application/pdf", "Kostenvoranschlag_{i}.pdf"), ("application/pdf", "Rechnung_Müller_{i}.pdf"),
          ("application/octet-stream", "data_{i}.bin")]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
WDAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
START, SPAN = 1420070400, 11 * 365 * 86400  # 2015-01-01, eleven years


def zipf_cum(n, s=1.1):
    w, c = [1.0 / (k + 1) ** s for k in range(n)], []
    t = 0.0
    for x in w:
        t += x
        c.append(t)
    return c


class Gen:
    def __init__(self, seed, n):
        self.r = random.Random(seed)
        self.n = n
        self.noise = self.r.randbytes(1 << 22)  # attachment bytes are slices of this (fast, deterministic)
        self.lang_names = [l for l, _ in LANGS]
        t, self.lang_cum = 0, []
        for _, w in LANGS:
            t += w
            self.lang_cum.append(t)
        for v in LANG.values():
            v["ncum"] = zipf_cum(len(v["nouns"]))
        # 400 people who write, with Zipf weights: a few write a lot.
        self.people = []
        for i in range(400):
            lang = self.pick_lang()
            L = LANG[lang]
            f, la = self.r.choice(L["first"]), self.r.choice(L["last"])
            name = (la + f) if lang in CJK else (f + " " + la)
            local = "%s%d" % ("abcdefghijklmnopqrstuvwxyz"[i % 26] * 2, i) if lang in ("ru", "el", "zh", "ja") else \
                (f + "." + la).lower().encode("ascii", "ignore").decode().replace("'", "").replace(" ", "")
            self.people.append((name, "%s@%s" % (local or "user%d" % i, self.r.choice(L["dom"])), lang))
        # Two fixed people the query list names: the most frequent sender and the second.
        self.people[0] = ("Emma Wilson", "emma.wilson@example.com", "en")
        self.people[1] = ("Jürgen Müller", "juergen.mueller@example.de", "de")
        self.pcum = zipf_cum(len(self.people), 0.9)
        self.recent = []  # (message-id, references, subject, lang, ts) of recent messages, for replies
        self.hot = None  # a thread receiving many replies in a row (long chains)

    def pick_lang(self):
        x = self.r.random() * self.lang_cum[-1]
        for name, c in zip(self.lang_names, self.lang_cum):
            if x < c:
                return name
        return "en"

    def zipf(self, items, cum):
        x = self.r.random() * cum[-1]
        lo, hi = 0, len(cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return items[lo]

    def fill(self, tpl, lang, p=None):
        L, r = LANG[lang], self.r
        out = tpl
        while "{n}" in out:
            out = out.replace("{n}", self.zipf(L["nouns"], L["ncum"]), 1)
        out = out.replace("{d}", r.choice(L["days"]).replace("_", " "))
        if "{p}" in out:
            out = out.replace("{p}", p or self.person()[0])
        return out

    def person(self):
        return self.zipf(self.people, self.pcum)

    def text(self, lang, nbytes):
        """Paragraphs of sentences, wrapped at 72 columns (so phrases cross line breaks)."""
        L, r = LANG[lang], self.r
        paras, size = [], 0
        while size < nbytes:
            sents = [self.fill(r.choice(L["sent"]), lang) for _ in range(r.randint(2, 6))]
            if lang == "en" and r.random() < 0.0001:
                sents.append("We saw a quokka near the {0}.".format(r.choice(L["nouns"])))
            p = self.wrap(("" if lang in CJK else " ").join(sents), lang)
            if lang == "en" and r.random() < 0.02:  # a line an mbox must quote (">From ")
                p = "From the desk of %s:\n%s" % (self.person()[0], p)
            paras.append(p)
            size += len(p.encode()) + 2
        return "\n\n".join(paras) + "\n"

    @staticmethod
    def wrap(p, lang):
        lines = []
        if lang in CJK:  # no spaces: break every 36 characters, mid-word, as mailers do
            return "\n".join(p[i:i + 36] for i in range(0, len(p), 36))
        line = ""
        for w in p.split(" "):
            if line and len(line) + 1 + len(w) > 72:
                lines.append(line)
                line = w
            else:
                line = line + " " + w if line else w
        lines.append(line)
        return "\n".join(lines)

    # ---- header encodings ----
    def enc_word(self, s):
        if all(ord(c) < 128 for c in s):
            return s
        if self.r.random() < 0.5:
            return "=?UTF-8?B?%s?=" % base64.b64encode(s.encode()).decode()
        q = "".join(c if c.isascii() and c.isalnum() else "_" if c == " " else
                    "".join("=%02X" % b for b in c.encode()) for c in s)
        return "=?UTF-8?Q?%s?=" % q

    def enc_subject(self, s):
        if all(ord(c) < 128 for c in s):
            return s
        # long subjects: several encoded words, folded (a word never splits a character)
        chunks, cur = [], ""
        for c in s:
            cur += c
            if len(cur.encode()) >= 30:
                chunks.append(cur)
                cur = ""
        if cur:
            chunks.append(cur)
        return "\n ".join(self.enc_word(c) if not c.isascii() else
                          "=?UTF-8?Q?%s?=" % "".join(x if x.isalnum() else "=%02X" % ord(x) for x in c)
                          for c in chunks)

    def addr(self, p):
        name, a, _ = p
        if all(ord(c) < 128 for c in name):
            return '"%s" <%s>' % (name, a) if "'" in name else "%s <%s>" % (name, a)
        return "%s <%s>" % (self.enc_word(name), a)

    @staticmethod
    def date(ts, zone):
        off = (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[3:]) * 60)
        t = time.gmtime(ts + off)
        return "%s, %d %s %d %02d:%02d:%02d %s" % (WDAYS[t.tm_wday], t.tm_mday, MONTHS[t.tm_mon - 1],
                                                  t.tm_year, t.tm_hour, t.tm_min, t.tm_sec, zone)

    # ---- bodies ----
    def text_part(self, body, ctype="text/plain"):
        r = self.r
        if body.isascii() and r.random() < 0.7:
            return "Content-Type: %s; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n%s" % (ctype, body)
        cte = r.choice(["8bit", "quoted-printable", "quoted-printable", "base64"])
        if cte == "8bit":
            enc = body
        elif cte == "base64":
            enc = base64.encodebytes(body.encode()).decode()
        else:
            enc = binascii.b2a_qp(body.encode(), quotetabs=False, istext=True).decode()
        return "Content-Type: %s; charset=utf-8\nContent-Transfer-Encoding: %s\n\n%s" % (ctype, cte, enc)

    @staticmethod
    def html(body):
        paras = "".join("<p>%s</p>\n" % p.replace("\n", " ").replace("&", "&amp;").replace("<", "&lt;")
                        for p in body.split("\n\n"))
        return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><style>p{margin:0 0 1em}</style></head>\n'
                "<body>\n%s</body></html>\n" % paras)

    def attachment(self, i, size):
        ctype, name = self.r.choice(ATTACH)
        name = name.format(i=self.r.randint(1, 999))
        if name.isascii():
            disp = 'attachment; filename="%s"' % name
            ct = '%s; name="%s"' % (ctype, name)
        else:  # RFC 2231 for the file name, RFC 2047 in name= as many mailers still send
            disp = "attachment;\n filename*=UTF-8''%s" % "".join(
                c if c.isascii() and (c.isalnum() or c in "._-") else "".join("%%%02X" % b for b in c.encode())
                for c in name)
            ct = '%s;\n name="%s"' % (ctype, self.enc_word(name))
        off = self.r.randrange(0, len(self.noise) - 1)
        raw = self.noise[off:off + size]
        while len(raw) < size:
            raw += self.noise[:size - len(raw)]
        return "Content-Type: %s\nContent-Disposition: %s\nContent-Transfer-Encoding: base64\n\n%s" % (
            ct, disp, base64.encodebytes(raw).decode())

    def multipart(self, subtype, parts):
        b = "=_b%016x" % self.r.getrandbits(64)
        return ('Content-Type: multipart/%s; boundary="%s"\n\nThis is a multi-part message in MIME format.\n\n' % (subtype, b)
                + "".join("--%s\n%s\n" % (b, p.rstrip("\n") + "\n") for p in parts) + "--%s--\n" % b)

    def body(self, idx, lang, quoted, fwd_inner):
        r = self.r
        tsize = int(2 ** r.uniform(9.3, 13.3))  # ~630 B .. 10 KB of text
        text = self.text(lang, tsize) + quoted
        k = r.random()
        if fwd_inner is not None:
            intro = self.text(lang, 200)
            return self.multipart("mixed", [self.text_part(intro),
                                           'Content-Type: message/rfc822\nContent-Disposition: attachment; filename="forwarded.eml"\n\n' + fwd_inner])
        if k < 0.50:
            return self.text_part(text)
        if k < 0.66:
            return self.multipart("alternative", [self.text_part(text), self.text_part(self.html(text), "text/html")])
        if k < 0.72:
            return self.text_part(self.html(text), "text/html")
        natt = r.choice([1, 1, 1, 2, 3])
        parts = [self.text_part(text) if r.random() < 0.6 else
                 self.multipart("alternative", [self.text_part(text), self.text_part(self.html(text), "text/html")])]
        for _ in range(natt):
            size = int(2 ** r.uniform(12.3, 17.2)) // natt  # 5 .. 150 KB each before base64
            if r.random() < 0.002:
                size = r.randint(1 << 20, 3 << 20)  # the few large ones
            parts.append(self.attachment(idx, size))
        return self.multipart("mixed", parts)

    def inner_message(self, idx, lang):
        """A forwarded message: its From is the only place "Zephyrine" occurs."""
        r = self.r
        p = self.person()
        z = ("Zephyrine " + p[0].split(" ")[-1], "zephyrine.%d@partner.example.org" % r.randint(1, 50), lang)
        ts = START + r.randrange(SPAN)
        s = self.fill(r.choice(LANG[lang]["subj"]), lang)
        return ("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <fwd.%d.%x@partner.example.org>\nMIME-Version: 1.0\n%s" % (
            self.addr(z), self.addr(p), self.enc_subject(s), self.date(ts, r.choice(ZONES)), idx, r.getrandbits(32),
            self.text_part(self.text(lang, r.randint(300, 3000))))), s

    def message(self, idx):
        """Returns (delivery_ts, bytes) of message idx (1-based)."""
        r = self.r
        ts = START + (idx - 1) * SPAN // self.n + r.randrange(max(SPAN // self.n, 1))
        sender = self.person()
        lang = sender[2] if r.random() < 0.8 else self.pick_lang()
        L = LANG[lang]
        subject = self.fill(r.choice(L["subj"]), lang)
        refs, parent, quoted, fwd = [], None, "", None
        k = r.random()
        on_hot = False
        if self.hot and r.random() < 0.5:  # long chains: a hot thread answered over and over
            parent, on_hot = self.hot, True
        elif self.recent and k < 0.35:
            parent = self.recent[-1 - min(int(r.expovariate(1 / 40.0)), len(self.recent) - 1)]
        if parent is not None:
            pid, prefs, psubj, plang, _ = parent
            refs = prefs + [pid]
            if len(refs) > 20:  # mailers trim References: first plus the last ones
                refs = refs[:1] + refs[-19:]
            subject = psubj if psubj.lower().startswith(("re:", "aw:", "ответ:")) else "Re: " + psubj
            lang = plang
            quoted = "\n%s %s:\n> %s\n" % (self.person()[0], LANG[lang]["quote"],
                                           "\n> ".join(self.text(lang, 300).splitlines()[:6]))
        elif self.recent and k < 0.38:  # a reply whose mailer dropped the references
            subject = "Re: " + self.recent[-1 - r.randrange(min(len(self.recent), 500))][2]
        elif k < 0.44:
            fwd, inner_subj = self.inner_message(idx, lang)
            subject = "Fwd: " + inner_subj
        mid = "<%d.%x.bench@%s>" % (idx, r.getrandbits(40), sender[1].split("@")[1])
        to = [self.person() for _ in range(r.choice([1, 1, 1, 2, 3, 6]))]
        h = ["From: " + self.addr(sender), "To: " + ",\n ".join(self.addr(p) for p in to)]
        if r.random() < 0.25:
            h.append("Cc: " + ",\n ".join(self.addr(self.person()) for _ in range(r.randint(1, 3))))
        h.append("Subject: " + self.enc_subject(subject))
        h.append("Date: " + self.date(ts, r.choice(ZONES)))
        h.append("Message-ID: " + mid)
        if refs:
            h.append("In-Reply-To: " + refs[-1])
            h.append("References: " + "\n ".join(refs))
        if r.random() < 0.2:
            h.append("List-Id: <team-%d.lists.example.org>" % r.randint(1, 5))
        h.append("MIME-Version: 1.0")
        raw = "\n".join(h) + "\n" + self.body(idx, lang, quoted, fwd)
        entry = (mid, refs, subject, lang, ts)
        self.recent.append(entry)
        if len(self.recent) > 2000:
            del self.recent[:1000]
        if self.hot is None:
            if r.random() < 0.002:
                self.hot = entry
        elif r.random() < 0.02:  # the hot thread goes quiet (chains of ~25 replies on average)
            self.hot = None
        elif on_hot and r.random() < 0.8:  # mostly answering the latest reply: depth grows
            self.hot = entry
        deliver = ts + int(r.expovariate(1 / 600.0))
        return deliver, raw.encode()


def from_line(ts):
    t = time.gmtime(ts)
    return "From bench@example.test %s %s %2d %02d:%02d:%02d %d\n" % (
        WDAYS[t.tm_wday], MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_year)


def write(out, ts, raw):
    out.write(from_line(ts).encode())
    lines = raw.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for line in lines:  # mboxrd: ">"-quote lines that would start a "From " line
        if line.lstrip(b">").startswith(b"From "):
            out.write(b">")
        out.write(line)
        out.write(b"\n")
    out.write(b"\n")  # the separator before the next "From " line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--count", type=int, default=100000)
    ap.add_argument("-s", "--seed", type=int, default=1)
    ap.add_argument("-o", "--out", default="-")
    a = ap.parse_args()
    g = Gen(a.seed, a.count)
    out = sys.stdout.buffer if a.out == "-" else open(a.out, "wb", buffering=1 << 20)
    total, written, delayed = 0, 0, []
    for i in range(1, a.count + 1):
        ts, raw = g.message(i)
        # About 3 in 100 messages are delivered late (after 1..200 later ones),
        # so replies to them may arrive first; the delivery time moves along.
        if g.r.random() < 0.03 and i < a.count - 250:
            heapq.heappush(delayed, (i + g.r.randint(1, 200), i, raw))
        else:
            write(out, ts, raw)
            written += 1
            total += len(raw)
        while delayed and delayed[0][0] <= i:
            _, _, d = heapq.heappop(delayed)
            write(out, ts + 1, d)
            written += 1
            total += len(d)
    for _, _, d in sorted(delayed):
        write(out, ts + 1, d)
        written += 1
        total += len(d)
    out.flush()
    print("gen-corpus: %d messages, %d bytes (mean %d)" % (written, total, total // max(written, 1)), file=sys.stderr)


if __name__ == "__main__":
    main()
