# bash completion for sockshim (installed to bash-completion's completions directory).
# Options here mirror `sockshim SUBCOMMAND --help`; tests/install/man_test.py checks both lists.

_sockshim_segments() {
  local f names=()
  for f in /dev/shm/sockshim-*; do
    [[ -e "$f" ]] && names+=("${f#/dev/shm/sockshim-}")
  done
  COMPREPLY=($(compgen -W "${names[*]}" -- "$cur"))
}

_sockshim() {
  local cur prev sub i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  sub=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      run|stats|check|ctl) sub=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z "$sub" ]]; then
    COMPREPLY=($(compgen -W "run stats check ctl --version --help" -- "$cur"))
    return
  fi
  case $sub in
    run)
      # After `--` (or the first word that is no option) everything is the command's.
      for ((i = i + 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
          _command_offset $((i + 1))
          return
        fi
      done
      case $prev in
        -c|--rules|--json-out|--junit|--preload|--pcap) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --name|--seed|--expect-fired|--pcap-slots) return ;;
        --intercept) COMPREPLY=($(compgen -W "auto preload seccomp" -- "$cur")); return ;;
      esac
      COMPREPLY=($(compgen -W "-c --rules --name --seed --summary --json-out --keep
        --allow-unattached --expect-fired --preload --junit --intercept --pcap --pcap-slots --seccomp-rw --help --" -- "$cur"))
      ;;
    stats)
      case $prev in
        --format) COMPREPLY=($(compgen -W "text json prometheus" -- "$cur")); return ;;
      esac
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--json --format --remove --events --gc --help" -- "$cur"))
      else
        _sockshim_segments
      fi
      ;;
    check)
      case $prev in
        --intercept) COMPREPLY=($(compgen -W "auto preload seccomp" -- "$cur")); return ;;
      esac
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--intercept --help" -- "$cur"))
      else
        COMPREPLY=($(compgen -f -- "$cur"))
      fi
      ;;
    ctl)
      case $prev in
        ctl) _sockshim_segments ;;
        list|enable|disable) ;;
        *) COMPREPLY=($(compgen -W "list enable disable" -- "$cur")) ;;
      esac
      ;;
  esac
}
complete -F _sockshim sockshim
