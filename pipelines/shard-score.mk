# shard-score.mk — scores a large manifest in SHARDS pieces at once: each
# shard is resized and scored by its own cxr-resize | cxr-score, `make -j`
# runs them side by side, and the pieces are joined in the manifest's
# order. The merged scores are the bytes one unsharded run writes
# (cxr-score --batch BATCH -j JOBS over the whole manifest), because each
# shard is a run of whole batches: shard k takes batches k*B/SHARDS to
# (k+1)*B/SHARDS - 1 of the manifest's B, so every image meets the same
# neighbours in its forward pass. On a cluster, a Slurm array runs one
# shard per task (cxr(7), SHARDED SCORING).
#
#   make -f pipelines/shard-score.mk -j 4 MODEL=model.cxm MANIFEST=new.tsv \
#       ROOT=images SHARDS=4 OUT=shard-out
#   -> shard-out/scores.tsv (and shard-out/shard-K.tsv, shard-out/shard-K.scores)
#
#   make -f pipelines/shard-score.mk ... OUT/shard-2.scores   one shard alone
#   make -f pipelines/shard-score.mk ... OUT/scores.tsv       join the shards
#
# Parameters (NAME=value):
#   MODEL     the model file (cxr-train -o); the image size is read from it
#   MANIFEST  a manifest TSV with an image column (cxr-split's, or any)
#   ROOT      the folder whose subfolders hold the PNGs (cxr-resize --root)
#   SHARDS    pieces (default 4)
#   BATCH     cxr-score --batch (default 8), the unit of a shard
#   JOBS      threads per shard (default 1: make -j SHARDS fills the cores)
#   OUT       output folder (default shard-out)
#   BIN       the tools (default this tree's bin/)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:

TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BIN     ?= $(TOP)/bin
SHARDS  ?= 4
BATCH   ?= 8
JOBS    ?= 1
OUT     ?= shard-out
MODEL   ?= $(error give MODEL=model.cxm)
MANIFEST ?= $(error give MANIFEST=file.tsv)
ROOT    ?= $(error give ROOT=folder of the PNGs)

IDS     := $(shell seq 0 $$(($(SHARDS) - 1)))
PIECES  := $(foreach k,$(IDS),$(OUT)/shard-$(k).tsv)

.PHONY: all help
all: $(OUT)/scores.tsv

help:
	@sed -n '2,/^$$/s/^# \{0,1\}//p' $(lastword $(MAKEFILE_LIST))

# The shards' manifests, each with the header line: rows cut at batch
# boundaries (see the top). Written to temporaries of this shell's own
# and renamed, so that array tasks making them at once each rename whole
# files; a changed manifest, SHARDS or BATCH remakes them.
$(OUT)/.cut: $(MANIFEST) FORCE
	@mkdir -p $(OUT)
	@echo '$(abspath $(MANIFEST)) $(SHARDS) $(BATCH)' | cmp -s - $@ || \
	    echo '$(abspath $(MANIFEST)) $(SHARDS) $(BATCH)' > $@
$(PIECES) &: $(MANIFEST) $(OUT)/.cut
	awk -v S=$(SHARDS) -v B=$(BATCH) -v out=$(OUT) -v tag=$$$$ ' \
	    NR == FNR { n++; next } \
	    FNR == 1 { h = $$0; nb = int((n - 1 + B - 1) / B); \
	        for (k = 0; k < S; k++) print h > (out "/shard-" k ".tsv." tag); next } \
	    { b = int((FNR - 2) / B); k = 0; while (k + 1 < S && b >= int((k + 1) * nb / S)) k++; \
	        print > (out "/shard-" k ".tsv." tag) }' $(MANIFEST) $(MANIFEST); \
	for k in $(IDS); do mv -f $(OUT)/shard-$$k.tsv.$$$$ $(OUT)/shard-$$k.tsv; done

# One shard: its images at the model's size, scored. Shards after the
# first have no header line, so that joining is concatenation.
$(OUT)/shard-%.scores: $(OUT)/shard-%.tsv $(MODEL) $(BIN)/cxr-resize $(BIN)/cxr-score
	size=$$($(BIN)/cxr-score --info -m $(MODEL) | awk -F'\t' '$$1 == "input_height" { print $$2 }'); \
	$(BIN)/cxr-resize -q -j $(JOBS) --size $$size --root $(ROOT) $< \
	    | $(BIN)/cxr-score -q -j $(JOBS) --batch $(BATCH) $(if $(filter 0,$*),,--no-header) \
	        -m $(MODEL) -o $@

$(OUT)/scores.tsv: $(foreach k,$(IDS),$(OUT)/shard-$(k).scores)
	cat $^ > $@.tmp && mv -f $@.tmp $@

.PHONY: FORCE
FORCE:
