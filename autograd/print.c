typedef int tg__print_placeholder;
