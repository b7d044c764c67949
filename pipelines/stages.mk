# The stages every study shares, from an NIH label file to the report;
# included by demo.mk and nih-binary.mk after config.mk, with
#   CSV          the NIH label file (Data_Entry_2017_v2020.csv)
#   ROOT         the folder whose subfolders hold the PNGs
#   SPLIT_FLAGS  extra cxr-split options (--test-list, --views)
#   TITLE, DATA  the report's title and a line describing the data
#   PIPELINE     the pipeline's name (demo, study), for the provenance
#   PARAMS       the names of the parameters that `help` lists and the
#                provenance's command repeats
#
# Every output lists the tool that makes it, so a rebuilt tool remakes
# what it made and what follows; each stage also depends on a .params file
# rewritten only when the stage's parameters change. The tools' -o outputs
# appear whole or not at all; outputs written by the shell go to $@.tmp and
# are renamed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: help clean FORCE

THR := $(if $(THRESHOLD),--threshold $(THRESHOLD))

## help: list the targets and the parameters
help:
	@grep -h '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'
	@echo; echo 'Parameters (pipelines/config.mk; override as NAME=value):'
	@$(foreach v,$(PARAMS),echo '  $(v)=$($(v))';)

## clean: remove OUT and everything in it
clean:
	rm -rf $(OUT)

define params
$(OUT)/.$(1).params: FORCE
	@mkdir -p $$(@D)
	@printf '%s\n' '$(2)' | cmp -s - $$@ || printf '%s\n' '$(2)' > $$@
endef
$(eval $(call params,split,$(N_TRAIN) $(N_VAL) $(N_TEST) $(SEED) $(SPLIT_FLAGS)))
$(eval $(call params,resize,$(SIZE)))
$(eval $(call params,pack,$(SEED)))
$(eval $(call params,train,$(WIDTH) $(EPOCHS) $(BATCH) $(LR) $(SEED) $(TRAIN_FLAGS)))
$(eval $(call params,eval,$(THRESHOLD) $(BIAS_BY)))

## OUT/split/{train,val,test}.tsv: manifests, split by patient
$(OUT)/split/train.tsv $(OUT)/split/val.tsv $(OUT)/split/test.tsv &: \
		$(CSV) $(BIN)/cxr-split $(OUT)/.split.params
	$(BIN)/cxr-split -q --train $(N_TRAIN) --val $(N_VAL) \
	    $(if $(filter all,$(N_TEST)),,--test $(N_TEST)) --seed $(SEED) \
	    $(SPLIT_FLAGS) -o $(OUT)/split $(CSV)

# Training and validation images go straight from cxr-resize into packs
# (the training one shuffled), the test images into a plain stream.
## OUT/train.cxp: training pack, shuffled
$(OUT)/train.cxp: $(OUT)/split/train.tsv $(BIN)/cxr-resize $(BIN)/cxr-pack \
		$(OUT)/.resize.params $(OUT)/.pack.params
	$(BIN)/cxr-resize -q -j $(JOBS) --size $(SIZE) --root $(ROOT) $< \
	    | $(BIN)/cxr-pack -q --shuffle --seed $(SEED) -o $@

## OUT/val.cxp: validation pack
$(OUT)/val.cxp: $(OUT)/split/val.tsv $(BIN)/cxr-resize $(BIN)/cxr-pack \
		$(OUT)/.resize.params
	$(BIN)/cxr-resize -q -j $(JOBS) --size $(SIZE) --root $(ROOT) $< \
	    | $(BIN)/cxr-pack -q -o $@

## OUT/test.cxs: test stream
$(OUT)/test.cxs: $(OUT)/split/test.tsv $(BIN)/cxr-resize $(OUT)/.resize.params
	$(BIN)/cxr-resize -q -j $(JOBS) --size $(SIZE) --root $(ROOT) -o $@ $<

# cxr-train leaves model.cxm.log (metrics per epoch), .ckpt and .best
# beside the model. An interrupted run (Ctrl-C writes a checkpoint) is
# resumed by the next make, when its checkpoint is newer than everything
# the model depends on; otherwise training starts afresh.
## OUT/model.cxm: the trained model
$(OUT)/model.cxm: $(OUT)/train.cxp $(OUT)/val.cxp $(BIN)/cxr-train $(OUT)/.train.params
	@if [ -f $@.ckpt ] && [ -z "$$(find $^ -newer $@.ckpt)" ]; then \
	    echo "resuming from $@.ckpt"; \
	    set -x; $(BIN)/cxr-train -j $(JOBS) --resume $@.ckpt --epochs $(EPOCHS) \
		--val $(OUT)/val.cxp -o $@ $<; \
	else \
	    set -x; $(BIN)/cxr-train -j $(JOBS) --width $(WIDTH) --epochs $(EPOCHS) \
		--batch $(BATCH) --lr $(LR) --seed $(SEED) $(TRAIN_FLAGS) \
		--val $(OUT)/val.cxp -o $@ $<; \
	fi

## OUT/scores.tsv: test-set scores
$(OUT)/scores.tsv: $(OUT)/model.cxm $(OUT)/test.cxs $(BIN)/cxr-score
	$(BIN)/cxr-score -q -j $(JOBS) -m $< -o $@ $(OUT)/test.cxs

## OUT/roc.tsv OUT/roc.svg: AUC with 95% CI, error rate; ROC plot
$(OUT)/roc.tsv $(OUT)/roc.svg &: $(OUT)/scores.tsv $(BIN)/cxr-roc $(OUT)/.eval.params
	$(BIN)/cxr-roc -q $(THR) --svg $(OUT)/roc.svg -o $(OUT)/roc.tsv $<

## OUT/bias.tsv OUT/bias.svg: AUC and error by sex, age, view; plot
$(OUT)/bias.tsv $(OUT)/bias.svg &: $(OUT)/scores.tsv $(BIN)/cxr-bias $(OUT)/.eval.params
	$(BIN)/cxr-bias -q $(THR) $(BIAS_BY) --svg $(OUT)/bias.svg -o $(OUT)/bias.tsv $<

## OUT/report.md: the report (Markdown)
$(OUT)/report.md: $(OUT)/roc.tsv $(OUT)/bias.tsv $(OUT)/roc.svg $(OUT)/bias.svg \
		$(TOP)/pipelines/report.sh $(OUT)/.eval.params
	sh $(TOP)/pipelines/report.sh -t '$(TITLE)' -d '$(DATA)' -T '$(THRESHOLD)' $(OUT) > $@.tmp
	mv $@.tmp $@

# The web page: cxr-report over the test scores, with the model (how the
# threshold was picked), the validation manifest (on how many images) and
# a provenance file: the command that reruns this pipeline with its
# parameters, the tools' versions, the data, the training log's header.
PROVENANCE = \
	printf 'pipeline\t%s\n' '$(PIPELINE)'; \
	printf 'command\t%s' 'make -f $(firstword $(MAKEFILE_LIST))'; \
	$(foreach v,$(PARAMS),printf " %s='%s'" '$(v)' '$($(v))';) echo; \
	printf 'data\t%s\n' '$(DATA)'; \
	for t in $(BIN)/cxr-*; do case $${t\#\#*/} in *.*) continue;; esac; \
	    printf 'version\t%s\n' "$$($$t --version)"; done; \
	[ ! -r $(OUT)/model.cxm.log ] || sed -n 's/^\# /training\t/p' $(OUT)/model.cxm.log
## OUT/report.html: the report as one self-contained web page
$(OUT)/report.html: $(OUT)/scores.tsv $(OUT)/model.cxm $(OUT)/split/val.tsv $(BIN)/cxr-report \
		$(OUT)/.eval.params
	{ $(PROVENANCE); } > $(OUT)/provenance.tsv
	$(BIN)/cxr-report -q $(THR) $(BIAS_BY) -m $(OUT)/model.cxm --val $(OUT)/split/val.tsv \
	    --title '$(TITLE)' --provenance $(OUT)/provenance.tsv -o $@ $<
