#!/usr/bin/env bash
# Train the styles fdstyle ships: the seven public-domain paintings, then slim variants of the
# default distilled from it.  Meant for a CUDA machine (~6 min per style at 20k steps on an H200);
# on a CPU it works but takes days.  On a lent GPU with ~10 usable minutes, MINUTES=1.2
# SLIM_MINUTES=0.4 trains everything once (~30k images a style); later sessions resume and refine.
#
#   tools/train_styles.sh [DATA_DIR]          # DATA_DIR holds content/, styles/, vgg/ (default ../shared/data)
#
# Environment (all optional):
#   STYLES="starry_night the_scream"  train only these (default: all seven, then the slim variants)
#   STEPS=20000  BATCH=8              reference length: 160k images (~2 COCO epochs)
#   SLIM_STEPS=10000                  distillation steps per slim variant
#   MINUTES=0  SLIM_MINUTES=0         stop each run after this long and export it (0 = no limit);
#                                     run again later and each style resumes where it stopped
#   OUT=models  RUNS=runs             where the styles + manifest, and the checkpoints + previews, go
#   EXTRA="--tv-weight 2"             more options for every run (e.g. while tuning)
# A style whose run folder already has a checkpoint is resumed, so an interrupted session continues.
set -euo pipefail

DATA=${1:-../shared/data}
STEPS=${STEPS:-20000}
BATCH=${BATCH:-8}
SLIM_STEPS=${SLIM_STEPS:-10000}
MINUTES=${MINUTES:-0}
SLIM_MINUTES=${SLIM_MINUTES:-0}
OUT=${OUT:-models}
RUNS=${RUNS:-runs}
DEFAULT_STYLE=starry_night
ALL="starry_night the_scream great_wave composition_vii shipwreck_of_the_minotaur woman_with_a_hat udnie slim"
STYLES=${STYLES:-$ALL}
VGG="$DATA/vgg/vgg19_relu3_1_torchvision_keys.npz"
read -r -a EXTRA_ARGS <<<"${EXTRA:-}"

wanted() { [[ " $STYLES " == *" $1 "* ]]; }

train() {  # NAME, then train options
    local name=$1
    shift
    local resume=()
    [[ -f "$RUNS/$name/checkpoint.pt" ]] && resume=(--resume)
    python -m fdstyle_core train --content-dir "$DATA/content" -o "$OUT/$name.pth" --run-dir "$RUNS/$name" \
        --batch-size "$BATCH" --checkpoint-every 2000 --preview-every 2000 "${resume[@]}" "$@" "${EXTRA_ARGS[@]}"
}

# name | title | artist | year | licence (../shared/docs/evaluation.md lists these paintings as public domain)
while IFS='|' read -r name title artist year licence; do
    wanted "$name" || continue
    default=()
    [[ "$name" == "$DEFAULT_STYLE" ]] && default=(--default)
    train "$name" --style-image "$DATA/styles/$name.jpg" --vgg "$VGG" --steps "$STEPS" --max-minutes "$MINUTES" \
        --display-name "$title" --title "$title" --artist "$artist" --year "$year" --licence "$licence" "${default[@]}"
done <<'EOF'
starry_night|The Starry Night|Vincent van Gogh|1889|public domain
the_scream|The Scream|Edvard Munch|1893|public domain
great_wave|The Great Wave off Kanagawa|Katsushika Hokusai|c. 1831|public domain
composition_vii|Composition VII|Wassily Kandinsky|1913|public domain
shipwreck_of_the_minotaur|The Shipwreck of the Minotaur|J. M. W. Turner|c. 1810|public domain
woman_with_a_hat|Woman with a Hat|Henri Matisse|1905|public domain in the US
udnie|Udnie (Young American Girl, The Dance)|Francis Picabia|1913|public domain in the US
EOF

# Slim variants for CPU users: distilled from the full default, so they look like it.
if wanted slim; then
    for variant in 0.5:w50 0.25:w25; do
        width=${variant%:*}
        train "${DEFAULT_STYLE}_${variant#*:}" --teacher "$OUT/$DEFAULT_STYLE.pth" --width "$width" --steps "$SLIM_STEPS" --max-minutes "$SLIM_MINUTES" \
            --display-name "The Starry Night (fast, width $width)"
    done
fi

ls -l "$OUT"/*.pth
echo "next: python tools/contact_sheet.py -o docs/contact_sheet.png --data $DATA  (judge by eye before shipping)"
