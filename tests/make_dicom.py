#!/usr/bin/python3
"""make_dicom.py — writes the DICOM fixtures of tests/t-dicom.sh into
tests/data/dicom/ from a real NIH image (tests/data/nih/images).

    /usr/bin/python3 tests/make_dicom.py [OUTDIR]

Needs python3-pydicom, python3-numpy, python3-pil (Debian) and DCMTK's
dcmcjpeg, dcmcrle and dcmcjpls (Debian dcmtk) for the compressed copies. The output
is the same bytes on every run: UIDs are derived from the file names,
dates are fixed.

The pixels all come from src.png, 00004094_000.png reduced to 256x256
by 4x4 block means (rounded half up, as cxr-resize does), 8-bit gray:

  mono2-8.dcm      MONOCHROME2, 8 bits, explicit VR little endian: the
                   pixels of src.png unchanged; CR; patient 4094, M,
                   021Y, PA
  mono1-8.dcm      MONOCHROME1, 8 bits: 255 - src (so it shows as src);
                   DX; patient "HOSP-0042", F, 006M, AP
  w12.dcm          MONOCHROME2, 12 bits stored in 16, no window and no VOI
                   LUT: v = 16 s + s // 16 (0..255 -> 0..4095); O, 010W
  w12-win.dcm      the same pixels with WindowCenter 1024, WindowWidth
                   1024; implicit VR little endian; no sex, 020D, LL
  w12-voilut.dcm   the same pixels with a VOI LUT Sequence (4096 entries
                   of 8 bits: 255 - v // 16, an inverting curve) and a
                   window (center 2048, width 4096) beside it
  mono1-12-win.dcm MONOCHROME1, 12 bits stored in 16: 4095 - v, with
                   WindowCenter 2000, WindowWidth 3000; F, 058Y, AP
  w16.dcm          MONOCHROME2, 16 bits stored, 128x128 (src's 2x2 block
                   means, rounded half up), v = 257 s, no window
  jpegll.dcm       mono2-8.dcm compressed with dcmcjpeg, JPEG lossless
                   (process 14, SV1)
  rle.dcm          w12-win.dcm compressed with dcmcrle, RLE lossless
  jpegls.dcm       w12.dcm compressed with dcmcjpls, JPEG-LS lossless
  jpeg2000.dcm     16x16, JPEG 2000 transfer syntax (a made-up codestream:
                   DCMTK decodes no JPEG 2000)
  truncated.dcm    mono2-8.dcm cut inside its pixel data
  multiframe.dcm   3 frames of 64x64, 8 bits
  sr.dcm           a Basic Text SR: no pixel data
  pdf.dcm          an Encapsulated PDF: no pixel data

Every file carries a made-up PatientName (DOE^JANE), PatientBirthDate
(19600229), AccessionNumber (ACC-777) and InstitutionName, for the test
to prove none of them leaks into scores, manifests or messages.
"""
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         JPEG2000Lossless, generate_uid, PYDICOM_IMPLEMENTATION_UID)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "data", "nih", "images", "00004094_000.png")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "data", "dicom")

CR = "1.2.840.10008.5.1.4.1.1.1"
DX = "1.2.840.10008.5.1.4.1.1.1.1"           # For Presentation
MF = "1.2.840.10008.5.1.4.1.1.7.2"           # Multi-frame Grayscale Byte SC
SR = "1.2.840.10008.5.1.4.1.1.88.11"         # Basic Text SR
PDF = "1.2.840.10008.5.1.4.1.1.104.1"        # Encapsulated PDF


def uid(name):
    return generate_uid(entropy_srcs=["cxr tests/data/dicom", name])


def block_mean(a, k):
    """k x k block means, rounded half up (what cxr-resize computes)."""
    h, w = a.shape
    s = a.astype(np.int64).reshape(h // k, k, w // k, k).sum(axis=(1, 3))
    n = k * k
    return ((s * 2 + n) // (2 * n)).astype(np.uint8)


def base(name, sop_class, ts=ExplicitVRLittleEndian, modality="CR",
         patient="4094", sex="M", age="021Y", view="PA"):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid(name)
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(name, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(name)
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series " + name)
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20260101"
    ds.StudyTime = ds.ContentTime = "120000"
    ds.AccessionNumber = "ACC-777"
    ds.Modality = modality
    ds.InstitutionName = "Saint Nowhere Hospital"
    ds.ReferringPhysicianName = "HOUSE^GREGORY"
    ds.PatientName = "DOE^JANE"
    ds.PatientID = patient
    ds.PatientBirthDate = "19600229"
    if sex is not None:
        ds.PatientSex = sex
    if age is not None:
        ds.PatientAge = age
    if view is not None:
        ds.ViewPosition = view
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    return ds


def image(ds, pixels, bits_stored=8, photometric="MONOCHROME2"):
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated = 8 if bits_stored <= 8 else 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    if ds.Modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageType = ["DERIVED", "PRIMARY"]
    dtype = np.uint8 if ds.BitsAllocated == 8 else np.dtype("<u2")
    ds.PixelData = np.ascontiguousarray(pixels.astype(dtype)).tobytes()
    return ds


def save(ds, name):
    path = os.path.join(OUT, name)
    ds.save_as(path, write_like_original=False)
    return path


def dcmtk(*cmd):
    subprocess.run(cmd, check=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    full = np.asarray(Image.open(SRC).convert("L"))
    src = block_mean(full, 4)                      # 256x256
    Image.fromarray(src).save(os.path.join(OUT, "src.png"), optimize=True)
    s16 = src.astype(np.int64)
    v12 = 16 * s16 + s16 // 16                    # 0..4095

    save(image(base("mono2-8.dcm", CR), src), "mono2-8.dcm")
    save(image(base("mono1-8.dcm", DX, modality="DX", patient="HOSP-0042",
                    sex="F", age="006M", view="AP"),
               255 - s16, photometric="MONOCHROME1"), "mono1-8.dcm")
    save(image(base("w12.dcm", CR, patient="77", sex="O", age="010W"),
               v12, bits_stored=12), "w12.dcm")

    ds = image(base("w12-win.dcm", CR, ts=ImplicitVRLittleEndian, patient="77",
                    sex=None, age="020D", view="LL"), v12, bits_stored=12)
    ds.WindowCenter = 1024
    ds.WindowWidth = 1024
    save(ds, "w12-win.dcm")

    ds = image(base("w12-voilut.dcm", DX, modality="DX", patient="77", sex="M",
                    age="058Y", view="PA"), v12, bits_stored=12)
    lut = Dataset()
    lut.add_new(0x00283002, "US", [4096, 0, 8])          # LUTDescriptor
    lut.LUTExplanation = "inverting test curve"
    lut_data = (255 - np.arange(4096) // 16).astype("<u2")
    lut.add_new(0x00283006, "OW", lut_data.tobytes())    # LUTData
    ds.VOILUTSequence = Sequence([lut])
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    save(ds, "w12-voilut.dcm")

    # MONOCHROME1 with a window: stored 4095 - v, so it shows as w12 does
    ds = image(base("mono1-12-win.dcm", DX, modality="DX", patient="77", sex="F",
                    age="058Y", view="AP"), 4095 - v12, bits_stored=12,
               photometric="MONOCHROME1")
    ds.WindowCenter = 2000
    ds.WindowWidth = 3000
    save(ds, "mono1-12-win.dcm")

    s128 = block_mean(src, 2).astype(np.int64)
    save(image(base("w16.dcm", CR, patient="77", sex="F", age="040Y", view="AP"),
               257 * s128, bits_stored=16), "w16.dcm")

    mono2 = os.path.join(OUT, "mono2-8.dcm")
    dcmtk("dcmcjpeg", "--encode-lossless-sv1", mono2, os.path.join(OUT, "jpegll.dcm"))
    dcmtk("dcmcrle", os.path.join(OUT, "w12-win.dcm"), os.path.join(OUT, "rle.dcm"))
    dcmtk("dcmcjpls", os.path.join(OUT, "w12.dcm"), os.path.join(OUT, "jpegls.dcm"))

    # JPEG 2000, which DCMTK does not decode (and a made-up codestream)
    ds = image(base("jpeg2000.dcm", CR, ts=JPEG2000Lossless), np.zeros((16, 16), np.uint8))
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51 not a real codestream\0"])
    ds["PixelData"].VR = "OB"
    save(ds, "jpeg2000.dcm")

    data = open(mono2, "rb").read()
    with open(os.path.join(OUT, "truncated.dcm"), "wb") as f:
        f.write(data[: len(data) * 2 // 3])

    frames = np.stack([block_mean(src, 4), 255 - block_mean(src, 4), block_mean(src, 4) // 2])
    ds = image(base("multiframe.dcm", MF, modality="OT"), frames)
    ds.NumberOfFrames = 3
    ds.SamplesPerPixel = 1
    save(ds, "multiframe.dcm")

    ds = base("sr.dcm", SR, modality="SR")
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "18748-4", "LN", "Diagnostic Imaging Report"
    ds.ConceptNameCodeSequence = Sequence([name])
    text = Dataset()
    text.RelationshipType = "CONTAINS"
    text.ValueType = "TEXT"
    text.TextValue = "No acute cardiopulmonary process."
    tname = Dataset()
    tname.CodeValue, tname.CodingSchemeDesignator, tname.CodeMeaning = "121071", "DCM", "Finding"
    text.ConceptNameCodeSequence = Sequence([tname])
    ds.ContentSequence = Sequence([text])
    save(ds, "sr.dcm")

    ds = base("pdf.dcm", PDF, modality="DOC")
    pdf = (b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
           b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
           b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n")
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.DocumentTitle = "report"
    ds.BurnedInAnnotation = "YES"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    save(ds, "pdf.dcm")


if __name__ == "__main__":
    main()
