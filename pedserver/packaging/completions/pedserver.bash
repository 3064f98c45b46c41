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
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --mode)
                    COMPREPLY=($(compgen -W "start stop show config connect disconnect update" -- "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -W "start stop show config connect disconnect update" -- "${cur}"))
                    return 0
                    ;;
                --commonname)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --configfile)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --appliance)
                    COMPREPLY=($(compgen -W "register list delete" -- "${cur}"))
                    return 0
                    ;;
                --name)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --certificate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --admin)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --eserverport)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --eadmin)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --internalshutdowntimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bgprocessstartuptimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bgprocessshutdowntimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pedwritelay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --connectretrydelay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --idletimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --socketreadtimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --socketwritetimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pinginterval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pingtimeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logfilename)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --loginfo)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logwarning)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logerror)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --logtrace)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --maxlogfilesize)
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
    complete -F _pedserver -o nosort -o bashdefault -o default pedserver
else
    complete -F _pedserver -o bashdefault -o default pedserver
fi
