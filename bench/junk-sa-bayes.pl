#!/usr/bin/perl
# junk-sa-bayes.pl RULES_DIR SITE_DIR LABEL < LIST
#
# Scores each message file named on standard input with SpamAssassin's
# Bayes classifier alone (bench/junk-compare.sh sets up RULES_DIR with only
# the Bayes rules and SITE_DIR with the Bayes plugin and database), and
# prints "FILE LABEL PROBABILITY" per message: the Bayes spam probability,
# the number SpamAssassin's BAYES_xx rules are drawn from. One process for
# all messages, so the figure is not dominated by Perl's start-up.
use strict;
use warnings;
use Mail::SpamAssassin;

my ($rules, $site, $label) = @ARGV;
die "usage: $0 RULES_DIR SITE_DIR LABEL < LIST\n" unless defined $label;

my $sa = Mail::SpamAssassin->new({
    rules_filename      => $rules,
    site_rules_filename => $site,
    dont_copy_prefs     => 1,
    local_tests_only    => 1,
});
$sa->init(1);

while (my $path = <STDIN>) {
    chomp $path;
    next if $path eq '';
    open(my $fh, '<', $path) or die "$path: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my $mail = $sa->parse($text);
    my $status = $sa->check($mail);
    my $p = $status->get_tag('BAYES');
    $p = '0.5' unless defined $p && $p ne '';
    print "$path $label $p\n";
    $status->finish;
    $mail->finish;
}
