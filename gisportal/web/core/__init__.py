"""What every web capability shares: the portal context, errors, languages, security,
delivery, throttles, assets, labels, schemas, the PDF renderer."""
