"""WTForms for the HTML pages (CSRF by Flask-WTF); each form hands the services plain input."""
