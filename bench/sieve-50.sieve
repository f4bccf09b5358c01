# A filter of 50 rules as people write them (the webmail's rules editor
# writes the same tests): senders, lists, subjects, sizes, a body test.
# Messages from smtp-source match none but the last, which flags them;
# every message stays in INBOX, so the run can count them.
require ["fileinto", "imap4flags", "relational", "comparator-i;ascii-numeric", "spamtest", "body"];
if address :is "from" "boss@work.example" { addflag "\\Flagged"; }
if address :domain :is "from" "newsletters.example" { fileinto "News"; stop; }
if header :contains "list-id" "announce.lists.example" { fileinto "Lists/Announce"; stop; }
if header :contains "list-id" "dev.lists.example" { fileinto "Lists/Dev"; stop; }
if header :contains "list-id" "users.lists.example" { fileinto "Lists/Users"; stop; }
if header :contains "subject" "invoice" { fileinto "Finance/Invoices"; }
if header :contains "subject" "receipt" { fileinto "Finance/Receipts"; }
if header :contains "subject" ["order confirmation", "your order"] { fileinto "Shopping"; stop; }
if header :matches "subject" "*[JIRA]*" { fileinto "Work/Jira"; stop; }
if header :matches "subject" "*[GitHub]*" { fileinto "Work/GitHub"; stop; }
if address :is "from" ["alerts@monitoring.example", "pager@monitoring.example"] { fileinto "Alerts"; addflag "\\Flagged"; stop; }
if address :domain :is "from" "bank.example" { fileinto "Finance/Bank"; stop; }
if address :domain :is "from" "airline.example" { fileinto "Travel"; stop; }
if address :domain :is "from" "hotel.example" { fileinto "Travel"; stop; }
if address :domain :is "from" "school.example" { fileinto "Family/School"; stop; }
if address :is "to" "support@work.example" { fileinto "Support"; stop; }
if address :is "to" "sales@work.example" { fileinto "Sales"; stop; }
if address :is "cc" "team@work.example" { fileinto "Team"; }
if header :contains "x-mailer" "BulkMailer" { fileinto "Bulk"; stop; }
if header :is "precedence" "bulk" { fileinto "Bulk"; stop; }
if exists "list-unsubscribe" { addflag "$List"; }
if size :over 20M { addflag "$Big"; }
if header :contains "subject" "meeting" { addflag "$Meeting"; }
if header :contains "subject" "urgent" { addflag "\\Flagged"; }
if header :contains "from" "mom" { fileinto "Family"; stop; }
if header :contains "from" "dad" { fileinto "Family"; stop; }
if address :localpart :is "from" "noreply" { fileinto "Notifications"; stop; }
if address :localpart :is "from" "no-reply" { fileinto "Notifications"; stop; }
if address :localpart :is "from" "notifications" { fileinto "Notifications"; stop; }
if header :contains "subject" "newsletter" { fileinto "News"; stop; }
if header :contains "subject" "webinar" { fileinto "News"; stop; }
if header :contains "subject" "unsubscribe" { fileinto "News"; stop; }
if header :contains "subject" "security alert" { addflag "\\Flagged"; }
if header :contains "subject" "password reset" { fileinto "Notifications"; stop; }
if header :contains "subject" "delivery status" { fileinto "Notifications"; stop; }
if address :domain :is "from" "social.example" { fileinto "Social"; stop; }
if address :domain :is "from" "forum.example" { fileinto "Social"; stop; }
if address :domain :is "from" "shop.example" { fileinto "Shopping"; stop; }
if address :domain :is "from" "cloud.example" { fileinto "Notifications"; stop; }
if address :domain :is "from" "calendar.example" { fileinto "Calendar"; }
if header :contains "content-type" "text/calendar" { fileinto "Calendar"; }
if header :contains "subject" "[SPAM]" { fileinto "Junk"; stop; }
if spamtest :value "ge" :comparator "i;ascii-numeric" "9" { fileinto "Junk"; stop; }
if header :contains "subject" "holiday" { addflag "$Personal"; }
if header :contains "subject" "birthday" { addflag "$Personal"; }
if header :contains "subject" "contract" { fileinto "Work/Legal"; }
if header :contains "subject" "report" { fileinto "Work/Reports"; }
if header :matches "subject" "Re: *" { addflag "$Reply"; }
if body :text :contains "unsubscribe from this list" { addflag "$List"; }
if allof (not exists "list-id", not header :contains "subject" "newsletter") { addflag "$Direct"; }
