# shellcheck shell=bash
# Sourced by the evaluation scripts: sets `client` (an array) to the mariadb client's command line for the server
# URL in $server (mysql://user[:pass]@host[:port], what OJSCOG_TEST_MYSQL_URL holds).
hostport="${server#mysql://}"; userpart="${hostport%@*}"; hostport="${hostport#*@}"
user="${userpart%%:*}"; pass=""; [ "$userpart" != "$user" ] && pass="${userpart#*:}"
host="${hostport%:*}"; port="${hostport#*:}"; [ "$port" = "$hostport" ] && port=3306
client=(mariadb -h "$host" -P "$port" -u "$user")
if [ -n "$pass" ]; then client+=("-p$pass"); fi
