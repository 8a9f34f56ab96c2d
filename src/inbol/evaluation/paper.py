"""The paper's reported numbers (Tables 1-4 of InBoL, in percent), copied from the extracted paper text
(``shared/paper/inbol-paper.txt``).  They are reference values for the report and for the tests of the
metric definitions; they are never used to compute anything of ours.

Table 1 is copied in full (both base models) so that a test can recompute every Overall from the per-set
numbers.  Doing so shows that the extracted text is not fully consistent for three LLaVA1.5-13B rows (see
:data:`TABLE1_INCONSISTENT`); every LLaVA1.5-7B row is consistent.
"""

from __future__ import annotations

# sizes of the paper's in-domain sets (section 4.1.2 / appendix F)
TABLE1_SIZES = {"vqav2": 300, "oven": 300, "sqa": 300, "uavqa": 100}

# Table 1 rows: (base, method) -> per set {acc, refr, s_trust}; UaVQA gives RefR only (Acc is 0).
_T1 = """\
7B	Original	52.00	0.33	4.33	50.33	0.00	0.67	51.33	0.00	2.67	12.00	46.10	1.30	-6.50
7B	+Refusal Prompt	50.67	7.67	9.00	37.33	17.67	-7.67	51.00	0.67	2.67	47.00	41.70	12.50	-4.10
7B	+SFT	53.00	5.67	11.67	50.67	3.00	4.33	60.00	0.00	20.00	81.00	49.10	10.70	8.90
7B	+IDK-IT	41.33	35.00	17.67	42.67	29.67	15.00	44.67	34.00	23.33	92.00	38.60	38.80	16.00
7B	+CA-DPO	52.00	26.33	30.33	50.67	22.67	24.00	61.00	23.00	45.00	87.00	49.10	30.30	28.50
13B	Original	55.33	0.00	10.67	61.00	0.00	22.00	56.33	0.00	12.67	20.00	51.00	2.10	4.10
13B	+Refusal Prompt	54.33	8.33	17.00	46.67	19.00	12.33	56.67	0.00	13.33	62.00	48.20	14.40	10.80
13B	+SFT	56.33	3.67	16.33	56.67	4.00	17.33	65.67	0.00	31.33	78.00	53.60	10.10	17.30
13B	+IDK-IT	49.00	30.67	22.33	47.00	24.33	24.67	43.33	40.67	27.33	89.00	41.80	37.60	21.20
13B	+CA-DPO	51.67	28.33	31.67	53.00	24.33	27.67	58.67	29.67	47.00	93.00	49.00	34.00	32.00"""

# Table 2 rows: AOKVQA, GQA, MMMU (acc, refr, s_trust), BeyondVisQA (refr), MMBench en-dev (acc, refr, s_trust)
_T2 = """\
7B	Original	78.56	0.00	57.13	59.65	0.00	19.30	34.70	0.00	-30.60	25.50	62.80	0.00	25.60
7B	+Refusal Prompt	56.77	26.20	39.74	58.65	3.43	20.74	32.22	12.89	-22.67	27.50	59.36	0.69	19.42
7B	+SFT	74.32	3.49	52.14	59.39	2.77	21.55	34.20	1.67	-29.93	56.00	63.32	0.26	26.89
7B	+IDK-IT	55.50	36.24	47.24	50.46	23.88	24.81	15.22	69.67	0.11	75.25	46.39	39.09	31.87
7B	+CA-DPO	72.23	17.64	62.10	60.41	12.95	33.77	19.67	56.67	-4.00	67.75	58.42	18.13	34.97
13B	Original	78.95	0.00	57.90	61.81	0.00	23.63	36.22	0.00	-27.56	33.50	67.96	0.00	35.91
13B	+Refusal Prompt	63.32	18.95	45.59	61.36	1.96	24.69	27.78	19.56	-24.89	46.00	64.69	0.26	29.64
13B	+SFT	77.82	2.62	58.25	61.32	1.69	24.33	38.22	1.78	-21.78	68.75	67.01	0.00	34.02
13B	+IDK-IT	63.93	23.06	50.92	52.27	19.22	23.77	14.22	74.33	2.78	79.50	55.84	23.91	35.60
13B	+CA-DPO	73.89	15.63	63.41	59.70	13.82	33.22	25.89	41.78	-6.44	72.50	62.63	14.69	39.95"""

# Table 4 rows: In-Domain(Avg) acc, refr, s_trust; Out-Of-Domain(Avg) acc, refr, s_trust
_T4 = """\
7B	DPO (1)	47.50	30.20	25.20	50.30	29.46	30.06
7B	DPO (2)	51.00	26.30	28.30	55.08	18.62	28.78
7B	DPO (3)	49.50	26.30	25.30	52.88	20.35	26.11
7B	CA-DPO (3)	49.10	30.30	28.50	52.68	26.35	31.71
13B	DPO (1)	47.10	36.10	30.30	52.71	24.14	29.56
13B	DPO (2)	49.60	31.40	30.60	56.37	16.45	29.20
13B	DPO (3)	48.60	33.90	31.10	55.19	20.83	31.21
13B	CA-DPO (3)	49.00	34.00	32.00	55.53	21.48	32.53"""

_M = ("acc", "refr", "s_trust")


def _rows(text: str):
    for line in text.splitlines():
        base, method, *vals = line.split("\t")
        yield base, method, [float(v) for v in vals]


TABLE1: dict[tuple[str, str], dict] = {}
for _b, _m, _v in _rows(_T1):
    TABLE1[(_b, _m)] = {
        "vqav2": dict(zip(_M, _v[0:3])),
        "oven": dict(zip(_M, _v[3:6])),
        "sqa": dict(zip(_M, _v[6:9])),
        "uavqa": {"acc": 0.0, "refr": _v[9]},
        "overall": dict(zip(_M, _v[10:13])),
    }

TABLE2: dict[tuple[str, str], dict] = {}
for _b, _m, _v in _rows(_T2):
    TABLE2[(_b, _m)] = {
        "aokvqa": dict(zip(_M, _v[0:3])),
        "gqa": dict(zip(_M, _v[3:6])),
        "mmmu": dict(zip(_M, _v[6:9])),
        "beyondvisqa": {"acc": 0.0, "refr": _v[9]},
        "mmbench": dict(zip(_M, _v[10:13])),
    }

# Table 3: refusal rate on extra unanswerable sets, (base, model) -> {set: refr}
TABLE3: dict[tuple[str, str], dict] = {
    ("7B", "Original"): {"vizwiz_ua": 9.00, "vqav2_idk_filter": 2.80},
    ("7B", "IDK-IT"): {"vizwiz_ua": 76.01, "vqav2_idk_filter": 81.42},
    ("7B", "CA-DPO"): {"vizwiz_ua": 69.97, "vqav2_idk_filter": 70.63},
    ("13B", "Original"): {"vizwiz_ua": 9.60, "vqav2_idk_filter": 2.60},
    ("13B", "IDK-IT"): {"vizwiz_ua": 78.61, "vqav2_idk_filter": 80.14},
    ("13B", "CA-DPO"): {"vizwiz_ua": 73.27, "vqav2_idk_filter": 72.40},
}

TABLE4: dict[tuple[str, str], dict] = {}
for _b, _m, _v in _rows(_T4):
    TABLE4[(_b, _m)] = {"in_domain": dict(zip(_M, _v[0:3])), "ood": dict(zip(_M, _v[3:6]))}

# Rows of the extracted Table 1 whose printed numbers do not agree with each other:
# - Overall not equal to the pooled per-set numbers (13B Original: pooled Acc 51.80 / RefR 2.00 / S 5.60 vs
#   printed 51.00 / 2.10 / 4.10; 13B +Refusal Prompt: pooled Acc 47.30 / S 9.00 vs printed 48.20 / 10.80);
# - a per-set S_trust not equal to 2*Acc + RefR - 100 (13B +IDK-IT VQAv2 28.67 vs 22.33 and OVEN 18.33 vs
#   24.67; 13B +CA-DPO OVEN 30.33 vs 27.67).
TABLE1_INCONSISTENT = {
    "overall": {("13B", "Original"), ("13B", "+Refusal Prompt")},
    "s_trust": {(("13B", "+IDK-IT"), "vqav2"), (("13B", "+IDK-IT"), "oven"), (("13B", "+CA-DPO"), "oven")},
}

# our methods' paper rows and columns: their specs (src/inbol/methods/<name>.py, paper_table1/3/4)
