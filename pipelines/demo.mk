# The whole cxr pipeline on a synthetic NIH-format data set, in minutes on
# two cores: synthesize, split by patient, resize, pack, train a narrow
# ResNet-50, score the test set, ROC and bias tables, and the report: a
# short one in Markdown for the terminal, and a whole one as one web page
# (report.html: plots, tables by group, provenance; no network needed).
#
#   make demo                              (from the top of the tree)
#   make -f pipelines/demo.mk EPOCHS=10 OUT=/tmp/demo
#   make -f pipelines/demo.mk help
#
# Parameters are in pipelines/config.mk, the shared stages in
# pipelines/stages.mk; this file adds the synthetic data.

PIPELINE := demo
TOP := $(patsubst %/pipelines/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
include $(TOP)/pipelines/config.mk

CSV   := $(OUT)/nih/Data_Entry_2017_v2020.csv
ROOT  := $(OUT)/nih
SPLIT_FLAGS :=
TITLE := cxr demo: normal vs abnormal on synthetic NIH-format data
DATA  := $(IMAGES) synthetic images of $(PATIENTS) patients, $(SYNTH_SIZE) px, in $(ROOT)
PARAMS := OUT IMAGES PATIENTS SYNTH_SIZE N_TRAIN N_VAL N_TEST SIZE WIDTH EPOCHS \
	BATCH LR TRAIN_FLAGS SEED JOBS THRESHOLD BIAS_BY BIN

.PHONY: demo
## demo: run everything, then print the report and where the web page is
demo: $(OUT)/report.md $(OUT)/report.html
	@cat $<
	@echo "The whole report, with plots and provenance: $(OUT)/report.html"

include $(TOP)/pipelines/stages.mk

# The web page: cxr-report over the test scores, with the model (how the
# threshold was picked), the validation manifest (on how many images) and
# a provenance file: the command that reruns this pipeline with its
# parameters, the tools' versions, the data, the training log's header.
# nih-binary.mk has the same rule.
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

$(eval $(call params,synth,$(IMAGES) $(PATIENTS) $(SYNTH_SIZE) $(SEED)))

# cxr-synth writes the label file last, whole, once every image is written.
## CSV: the synthetic NIH-layout data set
$(CSV): $(BIN)/cxr-synth $(OUT)/.synth.params
	$(BIN)/cxr-synth -q -j $(JOBS) --images $(IMAGES) --patients $(PATIENTS) \
	    --size $(SYNTH_SIZE) --seed $(SEED) -o $(ROOT)
