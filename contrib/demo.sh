#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs critgate's main job on 127.0.0.1 and says what happens as it goes:
# a customer's mail arrives over SMTP, an incident opens, every team member
# is called and texted through a local Twilio simulator, an engineer
# replies "ACK" by SMS, and the incident's timeline shows the time to
# acknowledge against the SLA.  Stops everything it started.
#
# Needs: Debian 12, root or sudo when packages are missing, and free
# loopback ports 2525 (SMTP), 8025 (webhooks) and 8099 (simulator).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. contrib/deps.sh

say() {
	printf '\n==> %s\n' "$*"
}

say "Installing missing Debian packages (if any) and building critgate"
critgate_install_missing
if [ ! -f build-demo/build.ninja ]; then
	meson setup build-demo --buildtype=release >/dev/null
fi
ninja -C build-demo >/dev/null
critgate="$top/build-demo/src/critgate"

for port in 2525 8025 8099; do
	if python3 -c "import socket,sys; s=socket.socket(); \
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
s.bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null; then
		:
	else
		echo "demo: port $port on 127.0.0.1 is in use; stop what" \
		    "uses it and run the demo again" >&2
		exit 1
	fi
done

work=$(mktemp -d /tmp/critgate-demo.XXXXXX)
sim_pid=""
gw_pid=""
cleanup() {
	say "Stopping the gateway and the simulator"
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" || :
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null &&
	    wait "$sim_pid" || :
	echo "The store and logs stay in $work for a look."
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

# The demo config, with the store moved into this run's folder and the
# file closed to others, as critgate requires of a file with secrets.
sed "s|/tmp/critgate-demo/critgate.db|$work/critgate.db|" \
    etc/critgate-demo.conf >"$work/critgate.conf"
chmod 600 "$work/critgate.conf"
conf="$work/critgate.conf"

# Runs a call to the simulator's control API and prints its JSON answer.
sim() {
	python3 - "$@" <<'PY'
import json, sys, urllib.request
method, path = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request("http://127.0.0.1:8099" + path, data=data,
                             method=method,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=30).read().decode())
PY
}

# Waits up to 20 s for a shell condition.
wait_until() {
	i=0
	until eval "$1"; do
		i=$((i + 1))
		if [ "$i" -gt 200 ]; then
			echo "demo: timed out waiting for: $2" >&2
			exit 1
		fi
		sleep 0.1
	done
}

say "Starting the Twilio-compatible simulator on 127.0.0.1:8099"
python3 test/stub/twilio_sim.py --port 8099 \
    --account-sid AC00000000000000000000000000000000 \
    --auth-token demo-auth-token-0123456789abcdef \
    --our-number +15550100000 \
    --sms-url http://127.0.0.1:8025/hooks/twilio/sms \
    >"$work/simulator.log" 2>&1 &
sim_pid=$!
wait_until "grep -q listening '$work/simulator.log'" "the simulator"

say "Checking the config, then starting 'critgate serve'"
"$critgate" check-config --config "$conf"
"$critgate" serve --config "$conf" >"$work/critgate.log" 2>&1 &
gw_pid=$!
wait_until "grep -q 'critgate: started' '$work/critgate.log'" "critgate"
echo "critgate listens for mail on 127.0.0.1:2525 and for Twilio's" \
    "webhooks on 127.0.0.1:8025."

say "A customer writes to critical@support.example.com (over SMTP, swaks)"
echo "From Dana Okafor <dana@customer.example.net>: \"Checkout down for"
echo "all EU customers - error 502\" (contrib/samples/01-checkout-down.eml)"
swaks --silent 2 --server 127.0.0.1 --port 2525 \
    --from dana@customer.example.net --to critical@support.example.com \
    --data @contrib/samples/01-checkout-down.eml
echo "critgate answered 250 only after the message was committed to disk."
wait_until "'$critgate' incidents --config '$conf' | grep -q open" \
    "the incident"
"$critgate" incidents --config "$conf"

say "Every team member is called and texted"
wait_until "[ \$(grep -c 'notify: page sent' '$work/critgate.log') -ge 6 ]" \
    "six pages"
grep 'notify: page sent' "$work/critgate.log" | sed 's/^<[0-9]>//'
echo
echo "What the team's phones received (as recorded by the simulator):"
sim GET /_sim/requests | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["status"] != 201:
        continue
    if r["path"].endswith("/Messages.json"):
        print("  SMS to %s: %s" % (r["form"]["To"][0], r["form"]["Body"][0]))
    else:
        twiml = r["form"]["Twiml"][0]
        said = twiml.split("<Say loop=\"2\">")[1].split("</Say>")[0]
        print("  call to %s says: %s" % (r["form"]["To"][0], said))
'

say "The mail server sends the same message again: no second page storm"
swaks --silent 2 --server 127.0.0.1 --port 2525 \
    --from dana@customer.example.net --to critical@support.example.com \
    --data @contrib/samples/02-checkout-down-resent.eml
wait_until "grep -q 'classify: duplicate' '$work/critgate.log'" "the duplicate"
grep 'classify: duplicate' "$work/critgate.log" | sed 's/^<[0-9]>//'

say "A partner writes to high@support.example.com: a high-priority incident"
swaks --silent 2 --server 127.0.0.1 --port 2525 \
    --from ops@partner.example.org --to high@support.example.com \
    --data @contrib/samples/03-replies-delayed-high.eml
wait_until "[ \$('$critgate' incidents --config '$conf' | grep -c open) \
    -ge 2 ]" "the second incident"
"$critgate" incidents --config "$conf"

say "Bob, on call, replies 'ACK 1' to the SMS (a signed Twilio webhook)"
sim POST /_sim/inbound \
    '{"from": "+15550100012", "body": "ACK 1 - looking at the EU load balancers"}' |
    python3 -c 'import json,sys; a=json.load(sys.stdin); \
print("critgate answered HTTP %s: %s" % (a["status"], a["body"]))'

say "Someone forges the same SMS without Twilio's signature"
sim POST /_sim/inbound \
    '{"from": "+15550100012", "body": "ACK 2", "signature": "bad"}' |
    python3 -c 'import json,sys; a=json.load(sys.stdin); \
print("critgate answered HTTP %s, and incident 2 keeps paging" % a["status"])'

say "Incident 1's timeline, with the time to acknowledge against the SLA"
"$critgate" show 1 --config "$conf"

say "Joerg acknowledges incident 2 from the command line"
"$critgate" ack 2 --by joerg --config "$conf"

say "Bob resolves incident 1, finds its root cause, and has a fix due"
"$critgate" resolve 1 --by bob --config "$conf"
"$critgate" analysed 1 --by bob --config "$conf"

say "The SLA report"
"$critgate" report --config "$conf"
