_pedclient() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""
    [[ ${cur} == --* ]] || opts="${opts//--/-}"

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="pedclient"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        pedclient)
            opts="-m -h -V --mode --show --set --json --foreground --commonname --force --configfile --regen --register --id --id_ip --id_port --id_serialnumber --certificate --admin --eadmin --hsmlink --hsmlinkgroup --ignoreidletimeout --shutdowntimeout --pstartuptimeout --pshutdowntimeout --locallogger --winservice --pedinitiated --listenport --listenip --auditdir --auditrotatesize --auditrotatecount --idletimeout --socketreadtimeout --socketwritetimeout --pinginterval --pingtimeout --logfilename --loginfo --logwarning --logerror --logtrace --maxlogfilesize --help --version"
            [[ ${cur} == --* ]] || opts="${opts//--/-}"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --mode|-mode)
                    COMPREPLY=($(compgen -W "start stop show config setid assignid releaseid deleteid testid" -- "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -W "start stop show config setid assignid releaseid deleteid testid" -- "${cur}"))
                    return 0
                    ;;
                --commonname|-commonname)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --configfile|-configfile)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --id|-id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --id_ip|-id_ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --id_port|-id_port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --id_serialnumber|-id_serialnumber)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --certificate|-certificate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --admin|-admin)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --eadmin|-eadmin)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hsmlink|-hsmlink)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hsmlinkgroup|-hsmlinkgroup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ignoreidletimeout|-ignoreidletimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --shutdowntimeout|-shutdowntimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pstartuptimeout|-pstartuptimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pshutdowntimeout|-pshutdowntimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pedinitiated|-pedinitiated)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listenport|-listenport)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listenip|-listenip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auditdir|-auditdir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auditrotatesize|-auditrotatesize)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auditrotatecount|-auditrotatecount)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --idletimeout|-idletimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --socketreadtimeout|-socketreadtimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --socketwritetimeout|-socketwritetimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pinginterval|-pinginterval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pingtimeout|-pingtimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logfilename|-logfilename)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --loginfo|-loginfo)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logwarning|-logwarning)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logerror|-logerror)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logtrace|-logtrace)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --maxlogfilesize|-maxlogfilesize)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _pedclient -o nosort -o bashdefault -o default pedclient PedClient
else
    complete -F _pedclient -o bashdefault -o default pedclient PedClient
fi
