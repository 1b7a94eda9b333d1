#!/usr/bin/env bash
# Shrink the styles' first and last convolutions from 9×9 to 5×5 kernels: on a CPU those two
# full-resolution layers cost a large share of a slim network's time.  Each style is distilled
# from its 9×9 original: the new network starts from the original's weights (the outer taps
# folded in) and learns to paint what the original paints.
#
# With NETWORK=lite, each style gets a lite variant beside it instead (OUT/NAME_lite.pth, "lite,
# fastest on CPUs"): pixel-block ends and depthwise residual blocks, distilled from the same
# original, of which it takes the layers the two networks share; the default style's lite
# variant becomes the default on CPUs.
#
#   tools/shrink_styles.sh [DATA_DIR]         # DATA_DIR holds content/ (default ../shared/data)
#
# The originals are first copied, with their manifest, from OUT to TEACHERS (once), so that OUT
# can take the shrunk styles under the same names and a stopped run can be resumed.
#
# Environment (all optional):
#   NETWORK=johnson               or lite
#   STYLES="starry_night udnie"   only these (default: every style in TEACHERS)
#   MINUTES=12                    per style; the run stops and exports then; run the script again
#                                 and each style goes on from its checkpoint
#   STEPS=100000                  per style: stop and export after this many steps (4 images each)
#   OUT=models                    the styles to shrink, and where the shrunk ones go (width 0.25)
#   TEACHERS=runs/teachers        where the 9×9 originals are kept
#   RUNS=runs                     checkpoints and previews
#   PYTHON=python3                the interpreter with fdstyle installed
set -euo pipefail

DATA=${1:-../shared/data}
MINUTES=${MINUTES:-12}
STEPS=${STEPS:-100000}
OUT=${OUT:-models}
RUNS=${RUNS:-runs}
TEACHERS=${TEACHERS:-$RUNS/teachers}
PYTHON=${PYTHON:-python3}

if [[ ! -d "$TEACHERS" ]]; then
    mkdir -p "$TEACHERS"
    "$PYTHON" - "$OUT" "$TEACHERS" <<'EOF'
import shutil
import sys
from pathlib import Path

from fdstyle_core.engine.network import architecture_from_state_dict
from fdstyle_core.engine.styles import read_state_dict

source, teachers = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(source.glob("*.pth")):
    if architecture_from_state_dict(read_state_dict(path)).end_kernel > 5:
        shutil.copy2(path, teachers / path.name)
shutil.copy2(source / "styles.json", teachers / "styles.json")
EOF
fi
STYLES=${STYLES:-$(cd "$TEACHERS" && ls -- *.pth | sed 's/\.pth$//')}
DEFAULT=$("$PYTHON" - "$TEACHERS" <<'EOF'
import sys
from pathlib import Path

from fdstyle_core.engine.manifest import read_entries

print(" ".join(name for name, entry in read_entries(Path(sys.argv[1])).items() if entry.get("default")))
EOF
)

NETWORK=${NETWORK:-johnson}
for name in $STYLES; do
    if [[ "$NETWORK" == lite ]]; then
        output=$OUT/${name}_lite.pth run=$RUNS/${name}_lite default_flag=(--default-for cpu)
        shape=(--network lite --variant-of "$name" --lr 2e-3)
    else
        output=$OUT/$name.pth run=$RUNS/${name}_k5 default_flag=()  # replaced under its name: its defaults stay
        shape=(--end-kernel 5 --lr 1e-3)
    fi
    default=()
    [[ " $DEFAULT " == *" $name "* ]] && default=("${default_flag[@]}")
    start=(--init "$TEACHERS/$name.pth")
    [[ -f "$run/checkpoint.pt" ]] && start=(--resume)
    "$PYTHON" -m fdstyle_core train --teacher "$TEACHERS/$name.pth" "${start[@]}" --width 0.25 "${shape[@]}" \
        --content-dir "$DATA/content" -o "$output" --run-dir "$run" --crop 128 --batch-size 4 \
        --steps "$STEPS" --max-minutes "$MINUTES" --checkpoint-every 500 --preview-every 500 "${default[@]}"
done
