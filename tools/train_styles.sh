#!/usr/bin/env bash
# Train the styles fdstyle ships: six public-domain paintings as fast (width 0.25) networks with
# the CPU recipe of docs/styles.md, 12.5 minutes each on a 2-core CPU.  On a GPU, raise MINUTES
# (or set it to 0 and use STEPS) and WIDTH=1 for full-quality variants; "slim" distills fast
# variants from a full default.  A style whose run folder has a checkpoint is resumed.
#
#   tools/train_styles.sh [DATA_DIR]          # DATA_DIR holds content/, styles/, vgg/ (default ../shared/data)
#
# Environment (all optional):
#   STYLES="starry_night the_scream"  train only these (default: the six shipped ones)
#   STEPS=100000  BATCH=4  CROP=128   steps are capped by MINUTES (the CPU recipe)
#   WIDTH=0.25                        channel multiplier (1 = the original network)
#   SLIM_STEPS=10000                  distillation steps per slim variant
#   MINUTES=12.5  SLIM_MINUTES=0      stop each run after this long and export it (0 = no limit);
#                                     run again later and each style resumes where it stopped
#   OUT=models  RUNS=runs             where the styles + manifest, and the checkpoints + previews, go
#   EXTRA="--tv-weight 2"             more options for every run (e.g. while tuning)
# A style whose run folder already has a checkpoint is resumed, so an interrupted session continues.
set -euo pipefail

DATA=${1:-../shared/data}
STEPS=${STEPS:-100000}
BATCH=${BATCH:-4}
CROP=${CROP:-128}
WIDTH=${WIDTH:-0.25}
SLIM_STEPS=${SLIM_STEPS:-10000}
MINUTES=${MINUTES:-12.5}
SLIM_MINUTES=${SLIM_MINUTES:-0}
OUT=${OUT:-models}
RUNS=${RUNS:-runs}
DEFAULT_STYLE=starry_night
ALL="starry_night the_scream great_wave composition_vii udnie woman_with_a_hat"
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
        --batch-size "$BATCH" --crop "$CROP" --checkpoint-every 200 --preview-every 250 "${resume[@]}" "$@" "${EXTRA_ARGS[@]}"
}

# name | title | artist | year | licence (../shared/docs/evaluation.md lists these paintings as public domain)
while IFS='|' read -r name title artist year licence; do
    wanted "$name" || continue
    default=()
    [[ "$name" == "$DEFAULT_STYLE" ]] && default=(--default)
    train "$name" --style-image "$DATA/styles/$name.jpg" --vgg "$VGG" --steps "$STEPS" --max-minutes "$MINUTES" \
        --width "$WIDTH" --lr 2e-3 --content-weight 2 --style-weight 5 --tv-weight 2 \
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
echo "next: python tools/contact_sheet.py -o docs/contact_sheet.jpg --data $DATA  (judge by eye before shipping)"
