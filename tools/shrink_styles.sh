#!/usr/bin/env bash
# Shrink the styles' first and last convolutions from 9×9 to 5×5 kernels: on a CPU those two
# full-resolution layers cost a large share of a slim network's time.  Each style is distilled
# from its 9×9 original: the new network starts from the original's weights (the outer taps
# folded in) and learns to paint what the original paints.
#
#   tools/shrink_styles.sh [DATA_DIR]         # DATA_DIR holds content/ (default ../shared/data)
#
# The originals are first copied, with their manifest, from OUT to TEACHERS (once), so that OUT
# can take the shrunk styles under the same names and a stopped run can be resumed.
#
# Environment (all optional):
#   STYLES="starry_night udnie"   only these (default: every style in TEACHERS)
#   MINUTES=12                    per style; the run stops and exports then; run the script again
#                                 and each style goes on from its checkpoint
#   OUT=models                    the styles to shrink, and where the shrunk ones go (width 0.25)
#   TEACHERS=runs/teachers        where the 9×9 originals are kept
#   RUNS=runs                     checkpoints and previews
#   PYTHON=python3                the interpreter with fdstyle installed
set -euo pipefail

DATA=${1:-../shared/data}
MINUTES=${MINUTES:-12}
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

for name in $STYLES; do
    default=()
    [[ " $DEFAULT " == *" $name "* ]] && default=(--default)
    start=(--init "$TEACHERS/$name.pth")
    [[ -f "$RUNS/${name}_k5/checkpoint.pt" ]] && start=(--resume)
    "$PYTHON" -m fdstyle_core train --teacher "$TEACHERS/$name.pth" "${start[@]}" --width 0.25 --end-kernel 5 \
        --content-dir "$DATA/content" -o "$OUT/$name.pth" --run-dir "$RUNS/${name}_k5" --crop 128 --batch-size 4 --lr 1e-3 \
        --steps 100000 --max-minutes "$MINUTES" --checkpoint-every 500 --preview-every 500 "${default[@]}"
done
