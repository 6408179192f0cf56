#!/usr/bin/perl
# proxy.pl - an HTTP/1.1 proxy in front of a registry, to make pulls fail the
# ways networks and servers do.  One request per connection (it answers with
# "Connection: close"), a child process per connection.
#
#   proxy.pl LISTEN_PORT UPSTREAM_PORT MODE [ARG]
#
# Modes (each "once" mode fires on the first matching request only, tracked
# by a file in $PROXY_STATE, a directory):
#   pass                 forward everything unchanged
#   slow BYTES_PER_SEC   throttle blob bodies
#   cut-once BYTES       close the connection after BYTES of the first blob body
#   cut-always BYTES     close every blob connection after BYTES of its body
#   503-once             answer the first request with 503 Service Unavailable
#   garble-manifest      replace every manifest body with broken JSON
#   chunked              send every body with Transfer-Encoding: chunked
#                        (odd chunk sizes, a chunk extension, a trailer)
#   close-delimited      send every body without a length, ended by closing
#   deny-uploads-after N forward the first N upload requests (POST, PATCH or
#                        PUT to .../blobs/uploads/), answer the later ones
#                        403 DENIED (a registry refusing a push half-way)
#   redirect             answer blob GETs on 127.0.0.1 with a 307 to
#                        127.0.0.2:LISTEN_PORT/storage/... (another "host",
#                        as blob storage is), which serves the blob; requests
#                        there are forwarded with $PROXY_UPSTREAM_AUTH (an
#                        Authorization value) instead of the client's
# Every request is logged to $PROXY_LOG as "HOST METHOD PATH auth=yes|no".
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Fcntl qw(O_CREAT O_EXCL O_WRONLY);
use Time::HiRes qw(sleep);

my ($port, $upstream, $mode, $arg) = @ARGV;
die "usage: proxy.pl LISTEN_PORT UPSTREAM_PORT MODE [ARG]\n" unless defined $mode;
my $state = $ENV{PROXY_STATE} // die "PROXY_STATE not set\n";
$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';

my @hosts = ('127.0.0.1', $mode eq 'redirect' ? ('127.0.0.2') : ());
my @listeners = map {
	IO::Socket::INET->new(LocalAddr => $_, LocalPort => $port, Listen => 64, ReuseAddr => 1)
	  or die "proxy.pl: listen $_:$port: $!\n"
} @hosts;
my $select = IO::Select->new(@listeners);

sub once {
	my $name = shift;
	return sysopen(my $fh, "$state/$name", O_CREAT | O_EXCL | O_WRONLY) ? 1 : 0;
}

# counter NAME: 1 for the first call, 2 for the next ... (across the forks)
sub counter {
	my $name = shift;
	my $n = 1;
	$n++ until once("$name-$n");
	return $n;
}

sub note {
	open(my $fh, '>>', $ENV{PROXY_LOG} // '/dev/null') or return;
	print $fh "@_\n";
}

sub read_head {
	my $s = shift;
	my $head = '';
	while ($head !~ /\r\n\r\n\z/) {
		my $n = sysread($s, my $byte, 1);
		return undef unless $n;
		return undef if $head eq '' && $byte !~ /[A-Z]/; # not HTTP (a TLS hello): hang up, as a server would
		$head .= $byte;
	}
	return $head;
}

sub send_all {
	my ($s, $data) = @_;
	while (length $data) {
		my $n = syswrite($s, $data);
		return 0 unless defined $n && $n > 0;
		substr($data, 0, $n) = '';
	}
	return 1;
}

sub handle {
	my ($client, $local) = @_;
	my $request = read_head($client) // return;
	my ($method, $path) = $request =~ m{^(\S+) (\S+)};
	my $auth = $request =~ /^Authorization:/mi ? 'yes' : 'no';
	note("$local $method $path auth=$auth");
	if ($mode eq '503-once' && once('503')) {
		send_all($client, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		return;
	}
	if ($mode eq 'deny-uploads-after' && $path =~ m{/blobs/uploads/} && counter('upload') > $arg) {
		my $body = '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}';
		send_all($client, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
			  . "Content-Length: ${\ length $body}\r\nConnection: close\r\n\r\n$body");
		return;
	}
	my $blob = $path =~ m{^/(?:storage/)?v2/.+/blobs/sha256:};
	if ($mode eq 'redirect' && $local eq '127.0.0.1' && $method eq 'GET' && $blob) {
		send_all($client, "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.2:$port/storage$path?sig=x\r\n"
			  . "Content-Length: 0\r\nConnection: close\r\n\r\n");
		return;
	}
	if ($path =~ m{^/storage(/[^?]*)}) {
		my $real = $1;
		$request =~ s{^(\S+) \S+}{$1 $real};
		$request =~ s/^Authorization:.*\r\n//mig;
		$request =~ s/\r\n\r\n\z/\r\nAuthorization: $ENV{PROXY_UPSTREAM_AUTH}\r\n\r\n/ if $ENV{PROXY_UPSTREAM_AUTH};
	}
	$request =~ s/^Connection:.*\r\n//mig;
	$request =~ s/\r\n\r\n\z/\r\nConnection: close\r\n\r\n/;
	my $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $upstream) or return;
	send_all($up, $request) or return;
	my ($body_length) = $request =~ /^Content-Length: (\d+)/mi;
	for (my $left = $body_length // 0; $left > 0;) { # a request body (push) goes along
		my $n = sysread($client, my $data, $left < 65536 ? $left : 65536);
		return unless $n;
		send_all($up, $data) or return;
		$left -= $n;
	}
	my $head = read_head($up) // return;
	my $ok = $head =~ m{^HTTP/1\.1 20[06]};
	if ($mode eq 'garble-manifest' && $path =~ m{/manifests/} && $ok) {
		my $body = '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {';
		$head =~ s/^Content-Length:.*\r\n//mig;
		$head =~ s/\r\n\r\n\z/\r\nContent-Length: ${\ length $body}\r\n\r\n/;
		send_all($client, $head . $body);
		return;
	}
	if (($mode eq 'chunked' || $mode eq 'close-delimited') && $head =~ /^Content-Length:/mi) {
		$head =~ s/^Content-Length:.*\r\n//mig;
		$head =~ s/\r\n\r\n\z/\r\nTransfer-Encoding: chunked\r\n\r\n/ if $mode eq 'chunked';
		send_all($client, $head) or return;
		my $first = 1;
		while (1) {
			my $n = sysread($up, my $data, 7777);
			last unless $n;
			my $out = $mode eq 'close-delimited' ? $data
			  : sprintf("%x%s\r\n%s\r\n", $n, $first ? ';lrun=test' : '', $data);
			send_all($client, $out) or return;
			$first = 0;
		}
		send_all($client, "0\r\nX-Trailer: yes\r\n\r\n") if $mode eq 'chunked';
		return;
	}
	send_all($client, $head) or return;
	my ($length) = $head =~ /^Content-Length: (\d+)/mi;
	my $cuttable = $blob && $ok && $method eq 'GET' && ($length // 0) > ($arg // 0);
	my $cut = $cuttable && ($mode eq 'cut-always' || ($mode eq 'cut-once' && once('cut'))) ? $arg : -1;
	my $sent = 0;
	while (1) {
		my $n = sysread($up, my $data, 16384);
		last unless $n;
		if ($cut >= 0 && $sent + $n >= $cut) {
			send_all($client, substr($data, 0, $cut - $sent));
			note("cut after $cut bytes");
			return;
		}
		sleep($n / $arg) if $mode eq 'slow' && $blob;
		send_all($client, $data) or return;
		$sent += $n;
	}
}

while (1) {
	for my $listener ($select->can_read) {
		my $client = $listener->accept or next;
		my $pid = fork;
		if (defined $pid && $pid == 0) {
			close $_ for @listeners;
			handle($client, $client->sockhost);
			close $client;
			exit 0;
		}
		close $client;
	}
}
