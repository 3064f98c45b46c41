_pedserver() {
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
                cmd="pedserver"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        pedserver)
            opts="-m -h -V --mode --show --set --json --foreground --commonname --force --configfile --appliance --regen --name --certificate --file --timeout --port --admin --eserverport --eadmin --ip --device --internalshutdowntimeout --bgprocessstartuptimeout --bgprocessshutdowntimeout --pedwritelay --connectretrydelay --idletimeout --socketreadtimeout --socketwritetimeout --pinginterval --pingtimeout --logfilename --loginfo --logwarning --logerror --logtrace --maxlogfilesize --help --version"
            [[ ${cur} == --* ]] || opts="${opts//--/-}"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --mode|-mode)
                    COMPREPLY=($(compgen -W "start stop show config connect disconnect update" -- "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -W "start stop show config connect disconnect update" -- "${cur}"))
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
                --appliance|-appliance)
                    COMPREPLY=($(compgen -W "register list delete" -- "${cur}"))
                    return 0
                    ;;
                --name|-name)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --certificate|-certificate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file|-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout|-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --port|-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --admin|-admin)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --eserverport|-eserverport)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --eadmin|-eadmin)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ip|-ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device|-device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --internalshutdowntimeout|-internalshutdowntimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bgprocessstartuptimeout|-bgprocessstartuptimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bgprocessshutdowntimeout|-bgprocessshutdowntimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pedwritelay|-pedwritelay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --connectretrydelay|-connectretrydelay)
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
    complete -F _pedserver -o nosort -o bashdefault -o default pedserver PedServer
else
    complete -F _pedserver -o bashdefault -o default pedserver PedServer
fi
