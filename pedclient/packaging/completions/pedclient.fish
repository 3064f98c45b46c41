complete -c pedclient -s m -l mode -o mode -d 'What to do' -r -f -a "start\t'Start in the background (or in the foreground with --foreground)'
stop\t'Stop the running daemon through its admin port'
show\t'Show whether the daemon runs and its status'
config\t'Show (-show) or change (-set) the configuration file'
setid\t'Create or change a PED ID mapping: -id -id_ip -id_port'
assignid\t'Assign a PED ID to an HSM: -id -id_serialnumber'
releaseid\t'Release a PED ID from its HSM: -id'
deleteid\t'Delete a PED ID mapping: -id'
testid\t'Reach the pedserver of a PED ID and report its version and status: -id'"
complete -c pedclient -l commonname -o commonname -d 'With -regen: the certificate\'s common name' -r
complete -c pedclient -l configfile -o configfile -d 'Configuration file [default: /etc/NAME/NAME.toml as root, else ~/.config/NAME/NAME.toml]' -r -F
complete -c pedclient -l id -o id -d 'The PED ID of setid, assignid, releaseid, deleteid and testid' -r
complete -c pedclient -l id_ip -o id_ip -d 'With setid: the pedserver\'s address or host name' -r
complete -c pedclient -l id_port -o id_port -d 'With setid: the pedserver\'s port' -r
complete -c pedclient -l id_serialnumber -o id_serialnumber -d 'With assignid: the serial number of the HSM the PED ID serves' -r
complete -c pedclient -l certificate -o certificate -d 'With -register: pedserver\'s certificate (PEM or DER), made by `pedserver -regen`' -r -F
complete -c pedclient -l admin -o admin -d 'Admin port, used by stop and show [default 1504]' -r
complete -c pedclient -l eadmin -o eadmin -d '1: the admin port listens externally; 0: on localhost only [default 0]' -r
complete -c pedclient -l hsmlink -o hsmlink -d 'The HSM link: the local socket an HSM (driver or hsm-emu) connects to' -r -F
complete -c pedclient -l hsmlinkgroup -o hsmlinkgroup -d 'The group whose members may use the HSM link (a name or a number) [default: pedclient\'s group]' -r
complete -c pedclient -l ignoreidletimeout -o ignoreidletimeout -d 'The idle timeout does not apply to links made through an assigned PED ID (0 or 1; alone: 1)' -r
complete -c pedclient -l shutdowntimeout -o shutdowntimeout -d 'Seconds internal services get to end at shutdown [default 5]' -r
complete -c pedclient -l pstartuptimeout -o pstartuptimeout -d 'Seconds `start` waits for the background process to be ready [default 10]' -r
complete -c pedclient -l pshutdowntimeout -o pshutdowntimeout -d 'Seconds `stop` waits for the background process to end [default 10]' -r
complete -c pedclient -l pedinitiated -o pedinitiated -d 'PED-initiated mode: 1 listens for pedserver\'s TLS connection [default 0]' -r
complete -c pedclient -l listenport -o listenport -d 'PED-initiated mode: the port to listen on [default 9696]' -r
complete -c pedclient -l listenip -o listenip -d 'PED-initiated mode: the address to listen on [default: every IPv4 interface]' -r
complete -c pedclient -l auditdir -o auditdir -d 'The directory of the HSMs\' audit logs [default: audit/ beside the log file]' -r -F
complete -c pedclient -l auditrotatesize -o auditrotatesize -d 'An audit log file is rotated before it grows past this many bytes [default 1048576]' -r
complete -c pedclient -l auditrotatecount -o auditrotatecount -d 'Audit log files kept per HSM, the current one included [default 10]' -r
complete -c pedclient -l idletimeout -o idletimeout -d 'Seconds a relay connection may be idle before it is closed [default 1800]' -r
complete -c pedclient -l socketreadtimeout -o socketreadtimeout -d 'Seconds allowed to connect, for the relay hellos and for a started frame to arrive [default 10]' -r
complete -c pedclient -l socketwritetimeout -o socketwritetimeout -d 'Seconds allowed to send a frame [default 10]' -r
complete -c pedclient -l pinginterval -o pinginterval -d 'Seconds between pings on a quiet connection; 0 disables pings [default 60]' -r
complete -c pedclient -l pingtimeout -o pingtimeout -d 'Seconds a ping may wait for its answer [default 30]' -r
complete -c pedclient -l logfilename -o logfilename -d 'Log file [default: /var/log/NAME/NAME.log as root, else ~/.local/state/NAME/NAME.log]' -r -F
complete -c pedclient -l loginfo -o loginfo -d 'Log "info" messages (0 or 1) [default 1]' -r
complete -c pedclient -l logwarning -o logwarning -d 'Log "warning" messages (0 or 1) [default 1]' -r
complete -c pedclient -l logerror -o logerror -d 'Log "error" messages (0 or 1) [default 1]' -r
complete -c pedclient -l logtrace -o logtrace -d 'Log "trace" (and debug) messages (0 or 1) [default 0]' -r
complete -c pedclient -l maxlogfilesize -o maxlogfilesize -d 'Largest log file in KB before it is rotated to FILE.1 [default 10240]' -r
complete -c pedclient -l show -o show -d 'With -mode config: print the configuration'
complete -c pedclient -l set -o set -d 'With -mode config: write the other options to the configuration file'
complete -c pedclient -l json -o json -d 'With show or config -show: print JSON'
complete -c pedclient -l foreground -o foreground -d 'With -mode start: run in this process (for systemd) instead of in the background'
complete -c pedclient -l force -o force -d 'Replace or delete without asking (-regen, and a registration or appliance in use)'
complete -c pedclient -l regen -o regen -d 'PED-initiated mode: make this pedclient\'s TLS key and certificate (with -commonname)'
complete -c pedclient -l register -o register -d 'PED-initiated mode: pin the pedserver certificate given with -certificate'
complete -c pedclient -l locallogger -o locallogger -d 'Accepted for the seed\'s command lines; pedclient always logs to its own file'
complete -c pedclient -l winservice -o winservice -d 'With -mode start: the seed\'s Windows-service start; accepted, see docs/pedclient.md'
complete -c pedclient -s h -l help -o help -d 'Print help (see more with \'--help\')'
complete -c pedclient -s V -l version -o version -d 'Print version'
complete -c PedClient -w pedclient
