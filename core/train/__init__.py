"""Teaching Zīme a new concept (issue #15): `python -m core train`.

photos (prepare and reject) → captions → class images (prior preservation) → lora (a LoRA
on the UNet, checkpoints, resume) → score (DINO, CLIP-I, CLIP-T, forgetting) → report
(the chosen checkpoint, concept.toml, scores.json, report.md, contact_sheet.png).
"""
