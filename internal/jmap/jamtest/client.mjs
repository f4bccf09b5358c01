// A real JMAP client, the jmap-jam library, drives Mailroom's JMAP server
// (TestJMAPJamClient runs it): node client.mjs BASEURL USER PASS prints a
// JSON summary of what it saw on stdout; any failure exits non-zero.
import { JamClient } from "jmap-jam";

const [base, user, pass] = process.argv.slice(2);
if (!base || !user || pass === undefined) {
  console.error("usage: node client.mjs BASEURL USER PASS");
  process.exit(2);
}
const sessionUrl = `${base}/.well-known/jmap`;

// jam only knows Bearer tokens, which Mailroom does not issue yet: its
// constructor's session fetch (with "Bearer none") fails, so that is
// ignored and the session is fetched again with Basic, which the client's
// later requests then send too.
const jam = new JamClient({ sessionUrl, bearerToken: "none" });
jam.session.catch(() => {});
jam.authHeader = "Basic " + Buffer.from(`${user}:${pass}`).toString("base64");
jam.session = JamClient.loadSession(sessionUrl, jam.authHeader);

const session = await jam.session;
const accountId = await jam.getPrimaryAccount();
if (!accountId) throw new Error(`no primary mail account in ${JSON.stringify(session)}`);

const [mailboxes] = await jam.api.Mailbox.get({ accountId, ids: null });
const inbox = mailboxes.list.find((m) => m.role === "inbox");
if (!inbox) throw new Error("no inbox");

// The message list: query and get in one request, by a result reference.
const [list] = await jam.requestMany((t) => {
  const query = t.Email.query({
    accountId,
    filter: { inMailbox: inbox.id },
    sort: [{ property: "receivedAt", isAscending: false }],
    limit: 50,
    collapseThreads: true,
  });
  const get = t.Email.get({
    accountId,
    ids: query.$ref("/ids"),
    properties: ["subject", "from", "receivedAt", "preview", "keywords"],
  });
  return { query, get };
});

const html = list.get.list.find((e) => e.subject === "html version");
if (!html) throw new Error(`no "html version" among ${list.get.list.map((e) => e.subject)}`);
const [full] = await jam.api.Email.get({
  accountId,
  ids: [html.id],
  properties: ["subject", "htmlBody", "bodyValues"],
  fetchHTMLBodyValues: true,
});
const email = full.list[0];
const htmlPart = email.htmlBody[0];

const [set] = await jam.api.Email.set({ accountId, update: { [html.id]: { "keywords/$seen": true } } });
const [after] = await jam.api.Email.get({ accountId, ids: [html.id], properties: ["keywords"] });

console.log(JSON.stringify({
  username: session.username,
  accountId,
  mailboxes: mailboxes.list.map((m) => m.role).filter(Boolean).sort(),
  inboxTotal: inbox.totalEmails,
  queryIds: list.query.ids.length,
  subjects: list.get.list.map((e) => e.subject),
  previews: list.get.list.every((e) => typeof e.preview === "string"),
  seenBefore: Boolean(html.keywords.$seen),
  htmlType: htmlPart.type,
  htmlValue: email.bodyValues[htmlPart.partId].value,
  updated: Object.keys(set.updated ?? {}),
  seenAfter: Boolean(after.list[0].keywords.$seen),
}));
