#!/usr/bin/perl
# token-server.pl - a registry token server (docker's "token" auth) for tests.
#
#   token-server.pl PORT KEY.pem CERT.pem ISSUER
#
# GET /token?service=S&scope=repository:NAME:pull answers {"token": JWT}, the
# JWT signed RS256 with KEY (openssl dgst) and carrying CERT in its x5c
# header, which the registry checks against its rootcertbundle.  Users:
#   alice:secret  may pull every repository
#   (anonymous)   may pull repositories under public/
#   eve:secret    is refused: 403 DENIED
#   anyone else   401 UNAUTHORIZED (wrong user name or password)
# Each request is logged to $TOKEN_LOG as "user=NAME scope=SCOPE status=N".
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64;
use File::Temp qw(tempfile);

my ($port, $key, $cert, $issuer) = @ARGV;
die "usage: token-server.pl PORT KEY CERT ISSUER\n" unless defined $issuer;
$SIG{PIPE} = 'IGNORE';
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 16, ReuseAddr => 1)
  or die "token-server.pl: listen: $!\n";

open(my $fh, '<', $cert) or die "token-server.pl: $cert: $!\n";
my $pem = do { local $/; <$fh> };
my ($der64) = $pem =~ /-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----/s;
$der64 =~ s/\s+//g;

sub b64url { my $s = encode_base64(shift, ''); $s =~ tr{+/}{-_}; $s =~ s/=+\z//; return $s; }

sub unescape { my $s = shift; $s =~ tr/+/ /; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex $1)/ge; return $s; }

sub jwt {
	my ($user, $service, $access) = @_;
	my $now = time;
	my $header = b64url(encode_json({typ => 'JWT', alg => 'RS256', x5c => [$der64]}));
	my $claims = b64url(encode_json({
		iss => $issuer, sub => $user, aud => $service, exp => $now + 300, nbf => $now - 10, iat => $now,
		jti => sprintf('%08x%08x', rand(2**32), rand(2**32)), access => $access,
	}));
	# the signing input in a file beside the key (the server is killed,
	# so nothing may wait for an exit hook to be removed)
	my ($tmp, $tmpname) = tempfile("$key.XXXXXX");
	print $tmp "$header.$claims";
	close $tmp;
	my $signature = `openssl dgst -sha256 -binary -sign '$key' '$tmpname'`;
	unlink $tmpname;
	die "token-server.pl: openssl dgst failed\n" if $? || !length $signature;
	return "$header.$claims." . b64url($signature);
}

sub answer {
	my ($client, $status, $body) = @_;
	my %text = (200 => 'OK', 401 => 'Unauthorized', 403 => 'Forbidden', 404 => 'Not Found');
	print $client "HTTP/1.1 $status $text{$status}\r\nContent-Type: application/json\r\n"
	  . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
}

while (my $client = $server->accept) {
	my $head = '';
	while ($head !~ /\r\n\r\n\z/) {
		my $n = sysread($client, my $byte, 1);
		last unless $n;
		$head .= $byte;
	}
	next unless length $head; # a port probe
	my ($path, $query) = $head =~ m{^GET ([^ ?]*)\??(\S*) HTTP};
	my %q = map { my ($k, $v) = split /=/, $_, 2; (unescape($k), unescape($v // '')) } split /&/, $query // '';
	my ($b64) = $head =~ /^Authorization: Basic (\S+)/mi;
	my ($user, $password) = defined $b64 ? split(/:/, decode_base64($b64), 2) : ('', '');
	my $scope = $q{scope} // '';
	my $status;
	if (!defined $path || $path ne '/token') {
		$status = 404;
		answer($client, 404, '{"errors":[{"code":"NOT_FOUND","message":"not found"}]}');
	} elsif ($user ne '' && !(($user eq 'alice' || $user eq 'eve') && $password eq 'secret')) {
		$status = 401;
		answer($client, 401, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication failed"}]}');
	} elsif ($user eq 'eve') {
		$status = 403;
		answer($client, 403, '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}');
	} else {
		my @access;
		if ($scope =~ /^repository:([^:]+):(.*)$/) {
			my ($name, $actions) = ($1, $2);
			push @access, {type => 'repository', name => $name, actions => ['pull']}
			  if $user eq 'alice' || $name =~ m{^public/};
		}
		$status = 200;
		answer($client, 200, encode_json({token => jwt($user || 'anonymous', $q{service} // '', \@access),
			expires_in => 300}));
	}
	if (open(my $log, '>>', $ENV{TOKEN_LOG} // '/dev/null')) {
		print $log "user=" . ($user || '-') . " scope=$scope status=$status\n";
	}
	close $client;
}
