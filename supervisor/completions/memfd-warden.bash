# bash completion for memfd-warden(1). Installed as
# /usr/share/bash-completion/completions/memfd-warden; tests/install checks it against --help.

_memfd_warden() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null; then
    _init_completion || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi

  local commands="run agent oci-profile suggest report check verify probe policy"
  local command="" i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      --) # after "run ... --": the program and its arguments
        if [[ $command == run ]]; then
          if ((i + 1 == cword)); then
            COMPREPLY=($(compgen -c -- "$cur"))
          else
            COMPREPLY=($(compgen -f -- "$cur"))
          fi
          return
        fi
        ;;
      -*) ;;
      *)
        if [[ -z $command ]]; then
          command=${words[i]}
        fi
        ;;
    esac
  done

  if [[ -z $command ]]; then
    COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
    return
  fi

  # Values of options.
  case $prev in
    --policy | --merge | --audit)
      COMPREPLY=($(compgen -f -- "$cur"))
      return
      ;;
    --policy-dir)
      COMPREPLY=($(compgen -d -- "$cur"))
      return
      ;;
    --socket | --audit-socket)
      COMPREPLY=($(compgen -f -- "$cur"))
      return
      ;;
    --default)
      if [[ $command == policy ]]; then
        return  # a flag there: nothing follows it
      elif [[ $command == suggest ]]; then
        COMPREPLY=($(compgen -W "deny allow" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "allow deny kill" -- "$cur"))
      fi
      return
      ;;
    --backend)
      COMPREPLY=($(compgen -W "auto unotify ptrace" -- "$cur"))
      return
      ;;
    --orphans)
      COMPREPLY=($(compgen -W "end wait" -- "$cur"))
      return
      ;;
    --on-supervisor-exit)
      COMPREPLY=($(compgen -W "kill enosys" -- "$cur"))
      return
      ;;
    --format)
      COMPREPLY=($(compgen -W "text markdown html" -- "$cur"))
      return
      ;;
    --log-level)
      COMPREPLY=($(compgen -W "trace debug info warn error critical off" -- "$cur"))
      return
      ;;
    --user)
      COMPREPLY=($(compgen -u -- "$cur"))
      return
      ;;
    --allow | --deny | --max-calls | --max-live | --max-bytes | --max-memfd-bytes | \
      --audit-fd | --orphans-grace | --metadata | --headroom | --container)
      return
      ;;
  esac

  local options
  case $command in
    run)
      options="--policy --allow --deny --default --max-calls --max-live --max-bytes
        --max-memfd-bytes --strict-writes --audit --audit-fd --audit-socket --audit-strict --count-live --record-exe
        --on-supervisor-exit --orphans --orphans-grace --backend --user --keep-caps --dry-run
        --fail-on-deny --log-level --help --"
      ;;
    agent) options="--socket --policy --policy-dir --policy-annotation --audit --record-exe --log-level --help" ;;
    oci-profile) options="--socket --policy --metadata --merge --help" ;;
    suggest) options="--headroom --default --container --help" ;;
    report) options="--format --container --help" ;;
    check | verify | probe) options="--help" ;;
    policy) options="--default --help" ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  elif [[ $command == check || $command == verify || $command == suggest || $command == report ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _memfd_warden memfd-warden
