# A published split and its radiologists' labels: Tang et al., "Automated
# abnormality classification of chest radiographs using deep
# convolutional neural networks", npj Digital Medicine 3:70 (2020), on
# NIH ChestX-ray14, normal vs abnormal. Their training (8,574 images) and
# validation (1,706) lists are the split as given (no draw); their 1,344
# test images are scored once and evaluated against three reference
# standards:
#   nlp         NIH's labels, mined from the reports by NLP (the label
#               column of the scores; "No Finding" is normal)
#   attending   the NLP labels checked and corrected by a reader of the
#               attending radiologists' reports (test_attending_rad.txt)
#   consensus   the majority of 3 board-certified radiologists who read
#               the images (test_rad_consensus_voted3.txt)
# The comparison, OUT/tang2020.md, puts the three AUCs (DeLong's 95% CI)
# beside the paper's AUC 0.9824 +- 0.0043, an ImageNet-pretrained
# DenseNet-121; cxr's network is a ResNet-50 trained from scratch.
#
#   make -f pipelines/tang2020.mk NIH=/data/nih
#   make -f pipelines/tang2020.mk NIH=/data/nih OUT=runs/tang EPOCHS=20
#   make -f pipelines/tang2020.mk help
#
# NIH holds NIH's download as nih-binary.mk wants it (Data_Entry_2017_v2020.csv
# and images_*/images/). The lists are in pipelines/tang2020/ (README.md
# there says where they come from); TANG=DIR takes lists of the same names
# from elsewhere. Parameters are in pipelines/config.mk (the study's
# block: 256 px, full width, 10 epochs); N_TRAIN=N or N_VAL=N draws N of a
# list's images by patient instead of all. The stages up to the report are
# pipelines/stages.mk's, so OUT/report.md and OUT/report.html are the
# usual report against the NLP labels.

PIPELINE := tang2020
TOP := $(patsubst %/pipelines/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
# every listed image, unless a count is given (before config.mk, whose
# study block would draw 20000 and 5000)
OUT       ?= tang2020-out
N_TRAIN   ?= all
N_VAL     ?= all
N_TEST    ?= all
include $(TOP)/pipelines/config.mk

NIH       ?=
TANG      ?= $(TOP)/pipelines/tang2020
CSV   := $(NIH)/Data_Entry_2017_v2020.csv
ROOT  := $(NIH)
# test.txt is the test lists' names alone, so that the scores carry NIH's
# (NLP) labels; the radiologists' come in through cxr-roc --reference.
LISTS := $(TANG)/train.txt $(TANG)/val.txt $(TANG)/test.txt
REF_attending := $(TANG)/test_attending_rad.txt
REF_consensus := $(TANG)/test_rad_consensus_voted3.txt
SPLIT_FLAGS := --train-list $(TANG)/train.txt --val-list $(TANG)/val.txt \
	--test-list $(TANG)/test.txt --disjoint-patients $(if $(VIEWS),--views $(VIEWS))
TITLE := cxr on the split of Tang et al. 2020, NIH ChestX-ray14, normal vs abnormal
DATA  := NIH ChestX-ray14 in $(NIH), split by the lists in $(TANG)$(if $(VIEWS), (views $(VIEWS)))
PARAMS := NIH TANG OUT VIEWS N_TRAIN N_VAL N_TEST SIZE WIDTH EPOCHS BATCH LR \
	TRAIN_FLAGS SEED JOBS THRESHOLD BIAS_BY BIN

.PHONY: tang2020
## tang2020: run the study on Tang's split, then print the three AUCs beside the paper's
tang2020: $(OUT)/report.md $(OUT)/report.html $(OUT)/tang2020.md
	@cat $(OUT)/tang2020.md
	@echo "The report against the NLP labels: $(OUT)/report.md, $(OUT)/report.html"

ifeq ($(NIH),)
ifeq ($(filter help clean,$(MAKECMDGOALS)),)
$(error give the NIH download folder: make -f pipelines/tang2020.mk NIH=DIR)
endif
endif

include $(TOP)/pipelines/stages.mk

# A changed list remakes the split (stages.mk's rule; its .params file
# sees the lists' names, not their contents).
$(OUT)/split/train.tsv $(OUT)/split/val.tsv $(OUT)/split/test.tsv: $(LISTS)

# The same scores against each radiologists' reference standard; cxr-roc
# says on stderr how many scores and labels matched (all 1,344 of each on
# NIH's download). The ROC against the NLP labels is stages.mk's roc.tsv.
## OUT/roc-{attending,consensus}.{tsv,svg}: AUC and ROC plot against the radiologists' labels
define reference
$$(OUT)/roc-$(1).tsv $$(OUT)/roc-$(1).svg &: $$(OUT)/scores.tsv $$(REF_$(1)) $$(BIN)/cxr-roc \
		$$(OUT)/.eval.params
	$$(BIN)/cxr-roc $$(THR) --reference $$(REF_$(1)) --svg $$(OUT)/roc-$(1).svg \
	    -o $$(OUT)/roc-$(1).tsv $$<
endef
$(eval $(call reference,attending))
$(eval $(call reference,consensus))

## OUT/tang2020.md: the three AUCs beside the paper's
$(OUT)/tang2020.md: $(OUT)/roc.tsv $(OUT)/roc-attending.tsv $(OUT)/roc-consensus.tsv \
		$(TOP)/pipelines/tang2020/compare.sh $(OUT)/.train.params
	sh $(TOP)/pipelines/tang2020/compare.sh -s '$(SIZE)' -w '$(WIDTH)' -e '$(EPOCHS)' \
	    $(OUT) > $@.tmp
	mv $@.tmp $@

$(CSV):
	@echo "$(CSV): not found; NIH=$(NIH) should hold NIH's Data_Entry_2017_v2020.csv and images_*/images/" >&2
	@exit 1
