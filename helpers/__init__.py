"""Brain-tumour MRI helpers."""
