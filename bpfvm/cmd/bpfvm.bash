# bash completion for bpfvm (installed to bash-completion's completions directory).
# Options here mirror `bpfvm SUBCOMMAND --help`; tests/install/man_test.py checks both lists.

_bpfvm() {
  local cur prev sub i opts
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  sub=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      run|validate|seccomp-build|asm|disasm|compile|crosscheck|batch) sub=${COMP_WORDS[i]}; break ;;
    esac
  done
  case $sub in
    '') opts="run validate seccomp-build asm disasm compile crosscheck batch --version --help" ;;
    run) opts="--packet --net --ll --ctx --mode --nr --arch --ip --args --help"
      [[ $prev == --mode ]] && opts="socket seccomp"
      [[ $prev == --arch ]] && opts="x86_64 i386 aarch64" ;;
    validate) opts="--mode --help"
      [[ $prev == --mode ]] && opts="socket seccomp" ;;
    seccomp-build) opts="--action --default --bad-arch --x32 --arch --format --help"
      [[ $prev =~ ^--(action|default|bad-arch|x32)$ ]] && opts="allow log notify kill_process kill_thread trap errno: trace"
      [[ $prev == --arch ]] && opts="x86_64 i386 aarch64"
      [[ $prev == --format ]] && opts="dd listing json numbers asm" ;;
    batch) opts="--help" ;;
    asm) opts="--format --help"
      [[ $prev == --format ]] && opts="dd json numbers" ;;
    disasm) opts="--format --help"
      [[ $prev == --format ]] && opts="listing asm" ;;
    compile) opts="--linktype --socket --format --help"
      [[ $prev == --format ]] && opts="dd listing json numbers asm"
      [[ $prev == --linktype ]] && opts="raw en10mb" ;;
    crosscheck) opts="--count --seed --ebpf --seccomp --help" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  # A program file where one is expected (run, validate, asm, disasm take PROG/FILE).
  if [[ $cur != -* && $sub =~ ^(run|validate|asm|disasm)$ && $prev != --* ]]; then
    COMPREPLY+=($(compgen -f -- "$cur"))
  fi
}
complete -F _bpfvm bpfvm
