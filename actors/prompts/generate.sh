#!/bin/sh
# generate.sh LIST OUTDIR [JOBS]: every NAME|TEXT line of LIST becomes
# OUTDIR/NAME.wav, 8 kHz mono signed 16-bit PCM, trimmed of leading and
# trailing silence and normalised to -1 dBFS. A prompt whose line is unchanged
# since the last run is kept (OUTDIR/.lines/NAME holds its line), so editing
# one line costs one prompt; WAVs no longer listed are removed.
set -eu

# One prompt (run by xargs below): $1 = OUTDIR, $2 = the NAME|TEXT line.
if [ "${1:-}" = --one ]; then
  out=$2 line=$3
  name=${line%%|*} text=${line#*|}
  tmp="$out/.$name.tmp.wav"
  format="-r 8000 -c 1 -b 16 -e signed-integer"
  case $text in
    "@tone "*)
      # A tone, not speech; short fades so it does not click.
      set -- ${text#@tone }
      sox -R -n $format "$tmp" synth "$2" sine "$1" fade 0.005 "$2" 0.005 norm -3
      ;;
    *)
      # espeak-ng speaks at 22.05 kHz; sox trims both ends (reverse, trim,
      # reverse), resamples and normalises.
      printf '%s\n' "$text" | espeak-ng -v en-us -s 150 --stdout \
        | sox -R -t wav - $format "$tmp" \
            silence 1 0.02 0.1% reverse silence 1 0.02 0.1% reverse norm -1
      ;;
  esac
  mv "$tmp" "$out/$name.wav"
  printf '%s\n' "$line" > "$out/.lines/$name"
  exit 0
fi

list=$1 out=$2 jobs=${3:-2}
for program in espeak-ng sox xargs; do
  command -v "$program" >/dev/null || { echo "generate.sh: $program is missing" >&2; exit 1; }
done
lines=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$list")
bad=$(printf '%s\n' "$lines" | grep -v -E '^[a-z0-9-]+\|.+$' || true)
if [ -n "$bad" ]; then
  printf 'generate.sh: not NAME|TEXT (NAME: a-z 0-9 -):\n%s\n' "$bad" >&2
  exit 1
fi
dups=$(printf '%s\n' "$lines" | cut -d'|' -f1 | sort | uniq -d)
if [ -n "$dups" ]; then
  printf 'generate.sh: listed twice: %s\n' "$dups" >&2
  exit 1
fi

mkdir -p "$out/.lines"
# Remove what is no longer listed.
printf '%s\n' "$lines" | cut -d'|' -f1 | sort > "$out/.lines/.listed"
ls "$out" | sed -n 's/\.wav$//p' | sort | comm -23 - "$out/.lines/.listed" \
  | while IFS= read -r n; do rm -f "$out/$n.wav" "$out/.lines/$n"; done
# Only new or changed lines; -d '\n': each line is one argument, quotes and
# all (o'clock).
printf '%s\n' "$lines" | while IFS= read -r line; do
  name=${line%%|*} prev=
  if [ -f "$out/$name.wav" ] && [ -f "$out/.lines/$name" ]; then
    IFS= read -r prev < "$out/.lines/$name" || true
  fi
  [ "$prev" = "$line" ] || printf '%s\n' "$line"
done | xargs -r -d '\n' -n 1 -P "$jobs" sh "$0" --one "$out"
