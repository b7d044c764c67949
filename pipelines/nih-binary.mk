# The study: NIH ChestX-ray14, normal ("No Finding") vs abnormal (any of
# the 14 findings), ResNet-50 trained from scratch on 20,000 images,
# validated on 5,000, tested on 10,000, split by patient; ROC with 95% CI
# and bias across sex, age and view.
#
#   make -f pipelines/nih-binary.mk NIH=/data/nih
#   make -f pipelines/nih-binary.mk NIH=/data/nih OUT=runs/pa VIEWS=PA
#   make -f pipelines/nih-binary.mk help
#
# NIH holds NIH's download as it unpacks: Data_Entry_2017_v2020.csv and
# images_001/images/ ... images_012/images/. When NIH/test_list.txt is
# there, the test set is NIH's official test list, every image of it
# (N_TEST=N draws N of them by patient; TEST_LIST= ignores the list and
# draws 10000 test images by patient like the rest).
# Parameters are in pipelines/config.mk; outputs go under OUT (out/).
# At full width on two cores an epoch of 20,000 images takes about 50
# minutes, the default 10 epochs about 8 hours (README, "On the real NIH
# download"); an interrupted `make` resumes training from its checkpoint.

PIPELINE := study
TOP := $(patsubst %/pipelines/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
include $(TOP)/pipelines/config.mk

NIH       ?=
TEST_LIST ?= $(wildcard $(NIH)/test_list.txt)
CSV   := $(NIH)/Data_Entry_2017_v2020.csv
ROOT  := $(NIH)
SPLIT_FLAGS := $(if $(TEST_LIST),--test-list $(TEST_LIST)) $(if $(VIEWS),--views $(VIEWS))
TITLE := cxr study: NIH ChestX-ray14, normal vs abnormal
DATA  := NIH ChestX-ray14 in $(NIH)$(if $(TEST_LIST), (test set from $(TEST_LIST)))$(if $(VIEWS), (views $(VIEWS)))
PARAMS := NIH OUT TEST_LIST VIEWS N_TRAIN N_VAL N_TEST SIZE WIDTH EPOCHS BATCH LR \
	TRAIN_FLAGS SEED JOBS THRESHOLD BIAS_BY BIN

.PHONY: study
## study: run the study, then print the report and where the web page is
study: $(OUT)/report.md $(OUT)/report.html
	@cat $<
	@echo "The whole report, with plots and provenance: $(OUT)/report.html"

ifeq ($(NIH),)
ifeq ($(filter help clean,$(MAKECMDGOALS)),)
$(error give the NIH download folder: make -f pipelines/nih-binary.mk NIH=DIR)
endif
endif

include $(TOP)/pipelines/stages.mk

$(CSV):
	@echo "$(CSV): not found; NIH=$(NIH) should hold NIH's Data_Entry_2017_v2020.csv and images_*/images/" >&2
	@exit 1
