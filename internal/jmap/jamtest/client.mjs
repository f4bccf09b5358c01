// A real JMAP client, the jmap-jam library, drives Mailroom's JMAP server
// (TestJMAPJamClient runs it): node client.mjs BASEURL USER APP-PASSWORD
// TOKEN RCPT prints "push ready" when it listens for pushes (the test then
// delivers a message) and, last, a JSON summary of what it saw on stdout;
// any failure exits non-zero.
import { JamClient } from "jmap-jam";

const [base, user, pass, token, rcpt] = process.argv.slice(2);
if (!base || !user || pass === undefined || !token || !rcpt) {
  console.error("usage: node client.mjs BASEURL USER APP-PASSWORD TOKEN RCPT");
  process.exit(2);
}
const sessionUrl = `${base}/.well-known/jmap`;

// An access token is what jam logs in with by itself.
const byToken = new JamClient({ sessionUrl, bearerToken: token });
const tokenSession = await byToken.session;

// The rest with an app password over Basic: jam's constructor fetches the
// session with "Bearer none", which fails and is ignored; the session is
// fetched again with Basic, which the client's later requests then send.
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

// Sending: a draft made with Email/set, submitted by EmailSubmission/set,
// which moves it to Sent and clears $draft (RFC 8621 7.5), in one request.
const drafts = mailboxes.list.find((m) => m.role === "drafts");
const sent = mailboxes.list.find((m) => m.role === "sent");
const api = async (using, methodCalls) => {
  const r = await fetch(session.apiUrl, {
    method: "POST",
    headers: { Authorization: jam.authHeader, "Content-Type": "application/json" },
    body: JSON.stringify({ using: ["urn:ietf:params:jmap:core", ...using], methodCalls }),
  });
  if (!r.ok) throw new Error(`API: ${r.status} ${await r.text()}`);
  return (await r.json()).methodResponses;
};
const [[, identities]] = await api(["urn:ietf:params:jmap:submission"], [["Identity/get", { accountId }, "i"]]);
const identity = identities.list.find((i) => i.email === user);
const sendResp = await api(["urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:submission"], [
  ["Email/set", { accountId, create: { draft: {
    mailboxIds: { [drafts.id]: true }, keywords: { $draft: true, $seen: true },
    from: [{ name: "Ann", email: user }], to: [{ email: rcpt }], subject: "sent by jmap-jam",
    textBody: [{ partId: "t", type: "text/plain" }], bodyValues: { t: { value: "Hello from a JMAP client." } },
  } } }, "0"],
  ["EmailSubmission/set", { accountId, create: { sub: { identityId: identity.id, emailId: "#draft" } },
    onSuccessUpdateEmail: { "#sub": { [`mailboxIds/${drafts.id}`]: null, [`mailboxIds/${sent.id}`]: true, "keywords/$draft": null } } }, "1"],
]);
const names = sendResp.map(([name]) => name);

// Push: an EventSource stream for Email changes; "push ready" tells the
// test to deliver a message, and the stream ends with the first state event.
const es = await fetch(session.eventSourceUrl.replace("{types}", "Email").replace("{closeafter}", "state").replace("{ping}", "0"),
  { headers: { Authorization: jam.authHeader } });
if (!es.ok) throw new Error(`event source: ${es.status}`);
console.log("push ready");
const pushed = await es.text();

console.log(JSON.stringify({
  tokenUsername: tokenSession.username,
  sendResponses: names,
  sentCreated: Boolean(sendResp[1][1].created?.sub?.id),
  pushedState: pushed.includes("event: state") && pushed.includes(accountId),
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
