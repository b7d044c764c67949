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

$(eval $(call params,synth,$(IMAGES) $(PATIENTS) $(SYNTH_SIZE) $(SEED)))

# cxr-synth writes the label file last, whole, once every image is written.
## CSV: the synthetic NIH-layout data set
$(CSV): $(BIN)/cxr-synth $(OUT)/.synth.params
	$(BIN)/cxr-synth -q -j $(JOBS) --images $(IMAGES) --patients $(PATIENTS) \
	    --size $(SYNTH_SIZE) --seed $(SEED) -o $(ROOT)
