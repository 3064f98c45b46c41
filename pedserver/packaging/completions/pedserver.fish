complete -c pedserver -s m -l mode -o mode -d 'What to do' -r -f -a "start\t'Start in the background (or in the foreground with --foreground)'
stop\t'Stop the running daemon through its admin port'
show\t'Show whether the daemon runs and its status'
config\t'Show (-show) or change (-set) the configuration file'
connect\t'PED-initiated mode: connect out to a registered appliance'
disconnect\t'PED-initiated mode: end the connection to a registered appliance'
update\t'Load a firmware image (-file) into the PED, at its Admin → 7 Software Update; the server must be stopped'"
complete -c pedserver -l commonname -o commonname -d 'With -regen: the certificate\'s common name' -r
complete -c pedserver -l configfile -o configfile -d 'Configuration file [default: /etc/NAME/NAME.toml as root, else ~/.config/NAME/NAME.toml]' -r -F
complete -c pedserver -l appliance -o appliance -d 'Manage the appliances of PED-initiated mode' -r -f -a "register\t'Register an appliance certificate (-name -certificate -ip [-port])'
list\t'List the registered appliances'
delete\t'Deregister an appliance (-name [-force])'"
complete -c pedserver -l name -o name -d 'Name of a registered appliance; -mode config -name shows and sets its own link settings' -r
complete -c pedserver -l certificate -o certificate -d 'With -appliance register: the appliance\'s certificate (PEM)' -r -F
complete -c pedserver -l file -o file -d 'With -mode update: the firmware image (.bin) to load into the PED' -r -F
complete -c pedserver -l timeout -o timeout -d 'With -mode update: seconds to wait for each answer at the PED (YES to upload, the check of the image, YES to save) [default 200, the PED\'s action timeout]' -r
complete -c pedserver -l port -o port -d 'Server port that pedclient connects to [default 1503]' -r
complete -c pedserver -l admin -o admin -d 'Admin port, used by stop/show/connect [default 1502]' -r
complete -c pedserver -l eserverport -o eserverport -d '1: the server port listens on all interfaces (or -ip); 0: on localhost only [default 1]' -r
complete -c pedserver -l eadmin -o eadmin -d '1: the admin port listens externally; 0: on localhost only [default 0]' -r
complete -c pedserver -l ip -o ip -d 'Address to listen on, IPv4 or IPv6 (needed on an IPv6-only network)' -r
complete -c pedserver -l device -o device -d 'The PED: `usb`, `socket:PATH` (emulated endpoint, Unix socket) or `tcp:127.0.0.1:PORT`' -r
complete -c pedserver -l internalshutdowntimeout -o internalshutdowntimeout -d 'Seconds internal services get to end at shutdown [default 5]' -r
complete -c pedserver -l bgprocessstartuptimeout -o bgprocessstartuptimeout -d 'Seconds `start` waits for the background process to be ready [default 10]' -r
complete -c pedserver -l bgprocessshutdowntimeout -o bgprocessshutdowntimeout -d 'Seconds `stop` waits for the background process to end [default 10]' -r
complete -c pedserver -l pedwritelay -o pedwritelay -d 'Microseconds between USB packet writes to the PED, 0-10000 [default 0]' -r
complete -c pedserver -l connectretrydelay -o connectretrydelay -d 'Milliseconds between the 20 attempts of -mode connect [default 3000]' -r
complete -c pedserver -l idletimeout -o idletimeout -d 'Seconds a relay connection may be idle before it is closed [default 1800]' -r
complete -c pedserver -l socketreadtimeout -o socketreadtimeout -d 'Seconds allowed to connect, for the relay hellos and for a started frame to arrive [default 10]' -r
complete -c pedserver -l socketwritetimeout -o socketwritetimeout -d 'Seconds allowed to send a frame [default 10]' -r
complete -c pedserver -l pinginterval -o pinginterval -d 'Seconds between pings on a quiet connection; 0 disables pings [default 60]' -r
complete -c pedserver -l pingtimeout -o pingtimeout -d 'Seconds a ping may wait for its answer [default 30]' -r
complete -c pedserver -l logfilename -o logfilename -d 'Log file [default: /var/log/NAME/NAME.log as root, else ~/.local/state/NAME/NAME.log]' -r -F
complete -c pedserver -l loginfo -o loginfo -d 'Log "info" messages (0 or 1) [default 1]' -r
complete -c pedserver -l logwarning -o logwarning -d 'Log "warning" messages (0 or 1) [default 1]' -r
complete -c pedserver -l logerror -o logerror -d 'Log "error" messages (0 or 1) [default 1]' -r
complete -c pedserver -l logtrace -o logtrace -d 'Log "trace" (and debug) messages (0 or 1) [default 0]' -r
complete -c pedserver -l maxlogfilesize -o maxlogfilesize -d 'Largest log file in KB before it is rotated to FILE.1 [default 10240]' -r
complete -c pedserver -l show -o show -d 'With -mode config: print the configuration'
complete -c pedserver -l set -o set -d 'With -mode config: write the other options to the configuration file'
complete -c pedserver -l json -o json -d 'With show or config -show: print JSON'
complete -c pedserver -l foreground -o foreground -d 'With -mode start: run in this process (for systemd) instead of in the background'
complete -c pedserver -l force -o force -d 'Replace or delete without asking (-regen, and a registration or appliance in use)'
complete -c pedserver -l regen -o regen -d 'Regenerate the client key and certificate of PED-initiated mode (with -commonname)'
complete -c pedserver -s h -l help -o help -d 'Print help (see more with \'--help\')'
complete -c pedserver -s V -l version -o version -d 'Print version'
complete -c PedServer -w pedserver
