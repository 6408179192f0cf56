# bash completion for lrun (installed by ./build.sh --install).
# Commands and flags come from lrun's own --help, names from the store, so
# this file never lists what the binary already knows.

_lrun_words() { # the first words of "lrun ARGS... --help"'s Available Commands
	"${COMP_WORDS[0]}" "$@" --help 2>/dev/null | awk '/^Available Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}'
}

_lrun_flags() { # the flags of "lrun ARGS... --help"
	"${COMP_WORDS[0]}" "$@" --help 2>/dev/null | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' | tr -d ' ,'
}

_lrun() {
	local cur=${COMP_WORDS[COMP_CWORD]} words=() i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--root | --log-level | --storage-driver) ((i++)) ;; # a global option's value
		-*) ;;
		*) words+=("$w") ;;
		esac
	done
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_lrun_flags "${words[@]:0:2}")" -- "$cur")
		return
	fi
	case ${#words[@]} in
	0) mapfile -t COMPREPLY < <(compgen -W "$(_lrun_words)" -- "$cur"); return ;;
	1) case ${words[0]} in
		image | container | volume | system)
			mapfile -t COMPREPLY < <(compgen -W "$(_lrun_words "${words[0]}")" -- "$cur"); return ;;
		esac ;;
	esac
	local what=${words[0]}
	[[ $what == image || $what == container || $what == volume ]] && what="$what ${words[1]}"
	case $what in
	run | create | rmi | history | save | push | tag | untag | "image "*)
		mapfile -t COMPREPLY < <(compgen -W "$("${COMP_WORDS[0]}" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -v '<none>')" -- "$cur") ;;
	"volume "*)
		mapfile -t COMPREPLY < <(compgen -W "$("${COMP_WORDS[0]}" volume ls -q 2>/dev/null)" -- "$cur") ;;
	load | import | build | cp)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
	*)
		mapfile -t COMPREPLY < <(compgen -W "$("${COMP_WORDS[0]}" ps -a --format '{{.Names}}' 2>/dev/null)" -- "$cur") ;;
	esac
}
complete -F _lrun lrun
