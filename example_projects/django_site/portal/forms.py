from django import forms

from secmon.django.forms import SecurityFormMixin


class ContactForm(SecurityFormMixin, forms.Form):
    """A failed is_valid() logs input_validation_fail with the field names, never the values."""

    email = forms.EmailField()
    subject = forms.CharField(max_length=80)
    message = forms.CharField(widget=forms.Textarea, min_length=10)


class UploadForm(forms.Form):
    file = forms.FileField()
